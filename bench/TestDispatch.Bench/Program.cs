namespace TestDispatch.Bench;

/// <summary>
/// Stopwatch benchmarks of the engine, one subcommand per benchmark class. They print figures and
/// never assert: a benchmark that "fails" is still a result to read.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            PrintUsage(Console.Out);
            return args.Length == 0 ? 2 : 0;
        }
        try
        {
            return args[0] switch
            {
                "store" => StoreBenchmark.Run(BenchArgs.Parse(args[1..])),
                StoreBenchmark.LoadCommand => StoreBenchmark.LoadOnce(args[1..]),
                "dispatch" => DispatchBenchmark.Run(BenchArgs.Parse(args[1..])),
                "tui" => TuiBenchmark.Run(BenchArgs.Parse(args[1..])),
                "adoption" => AdoptionBenchmark.Run(BenchArgs.Parse(args[1..])),
                "ssh" => SshBenchmark.Run(BenchArgs.Parse(args[1..])),
                "fleet" => FleetBenchmark.Run(BenchArgs.Parse(args[1..])),
                "history" => HistoryBenchmark.Run(BenchArgs.Parse(args[1..])),
                "grep" => GrepBenchmark.Run(BenchArgs.Parse(args[1..])),
                "diff" => DiffBenchmark.Run(BenchArgs.Parse(args[1..])),
                DiffBenchmark.OnceCommand => DiffBenchmark.RunOnce(args[1..]),
                "results" => ResultsBenchmark.Run(BenchArgs.Parse(args[1..])),
                ResultsBenchmark.OnceCommand => ResultsBenchmark.RunOnce(args[1..]),
                "case-history" => CaseHistoryBenchmark.Run(BenchArgs.Parse(args[1..])),
                CaseHistoryBenchmark.OnceCommand => CaseHistoryBenchmark.RunOnce(args[1..]),
                "lookback" => LookbackBenchmark.Run(BenchArgs.Parse(args[1..])),
                "shared" => SharedBenchmark.Run(BenchArgs.Parse(args[1..])),
                "order" => OrderBenchmark.Run(BenchArgs.Parse(args[1..])),
                "slurm" => SlurmBenchmark.Run(BenchArgs.Parse(args[1..])),
                _ => throw new BenchUsageException($"unknown benchmark '{args[0]}'"),
            };
        }
        catch (BenchUsageException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            PrintUsage(Console.Error);
            return 2;
        }
    }

    private static void PrintUsage(TextWriter to)
    {
        to.WriteLine("usage: dotnet run -c Release --project bench/TestDispatch.Bench -- <benchmark> [options]");
        to.WriteLine();
        to.WriteLine("benchmarks:");
        to.WriteLine("  store   RunStore commit latency, cold load and a rewrite-one-JSON-file comparison, on the real disk");
        to.WriteLine("          --sizes 1000,10000,100000   runs held by each store");
        to.WriteLine("          --dir PATH                  where to create the scratch dir (default: the temp dir)");
        to.WriteLine("          --baseline-iters N          fsync'd appends for the baseline (default 1000, at least 500)");
        to.WriteLine("          --commit-iters N            prepare+update pairs per size (default 1000, at least 300)");
        to.WriteLine("          --cold-tries N              cold loads per size (default 5)");
        to.WriteLine("          --naive-iters N             rewrites per size for the naive design (default: 200, fewer when large)");
        to.WriteLine("          --keep                      leave the scratch dir behind");
        to.WriteLine("  dispatch  the agent through the real CLI, as installed (publish it first: dotnet publish TestDispatch.Tui -c Release -r linux-x64):");
        to.WriteLine("            overhead of 'run --wait' on a trivial test (agent up and cold), throughput of many trivial tests");
        to.WriteLine("            over 2 local machines vs GNU parallel -j2, and 'logs -f' lag and peak memory on a fast, large log");
        to.WriteLine("          --testdispatch PATH         the binary (default: TestDispatch.Tui/bin/Release/net10.0/<rid>/publish/testdispatch of this repository)");
        to.WriteLine("          --only overhead,throughput,follow   which parts to run (default: all three)");
        to.WriteLine("          --iters N                   calls per overhead figure (default 20, at least 10)");
        to.WriteLine("          --jobs N                    tests in the throughput run (default 200)");
        to.WriteLine("          --follow-mb 20,200          log sizes for the follow part, in MB");
        to.WriteLine("          --dir PATH                  where to create the scratch dir (default: the temp dir)");
        to.WriteLine("          --keep                      leave the scratch dir behind");
        to.WriteLine("  shared    one local machine shared by two state dirs (the binary, as for dispatch): the lock step's cost on a free machine");
        to.WriteLine("            (the wrapper's take_lock in sh, against that sh without it), a warm 'run --wait' for scale, and the handover gap");
        to.WriteLine("            (the waiting state dir's started_at minus the holder's ended_at)");
        to.WriteLine("          --iters N                   calls per timing (default 30); --trials N handovers (default 5)");
        to.WriteLine("          --testdispatch PATH         the binary; --dir PATH; --keep");
        to.WriteLine("  order     CPython's own test modules (40, plan in alphabetical order) as one batch over 2 local machines: the first batch");
        to.WriteLine("            (nothing known), the same plan again (longest first from history), again with \"order\": \"plan\", against");
        to.WriteLine("            GNU parallel -j2 and xargs -P2 over the same run.sh in the same sitting");
        to.WriteLine("          --python PATH               the Python whose test package runs (default: python3 on PATH)");
        to.WriteLine("          --modules N                 the first N modules of the list (default 40); --testdispatch PATH; --dir PATH");
        to.WriteLine("  slurm     a 3-node Slurm cluster on 127.0.0.1 it starts (slurm-wlm, munge; the binary, as for dispatch): 'run --wait' of a");
        to.WriteLine("            trivial test on a node machine vs 'sbatch --wait' of the same script, and N trivial tests as one batch over the");
        to.WriteLine("            three nodes vs one job array ('sbatch --array=1-N --wait')");
        to.WriteLine("          --iters N                   calls per latency figure (default 10); --jobs N tests (default 100)");
        to.WriteLine("          --testdispatch PATH         the binary; --keep");
        to.WriteLine("  history   stores made by one real 'batch submit --wait' of N trivial entries over 2 local machines: the hot state's");
        to.WriteLine("            bytes, and machines, runs --limit 50, show, run --wait against an empty store in the same run (ratios)");
        to.WriteLine("          --batches 2000,20000        entries of each store's batch (default 2000)");
        to.WriteLine("          --sizes 0,100000,1000000    instead or as well: stores of that many runs built through the store's writers; per");
        to.WriteLine("                                      command: median time (hyperfine), peak memory, a --wait client's peak on a 20k batch");
        to.WriteLine("          --runs N                    timed calls per command (default 10)");
        to.WriteLine("          --batch N                   entries of the waited batch (default 20000)");
        to.WriteLine("          --testdispatch PATH         the binary; --dir PATH; --keep");
        to.WriteLine("  adoption  one batch of slow tests over 2 local machines, undisturbed and with the agent SIGKILLed at random");
        to.WriteLine("            (the native binary, as for dispatch): completed, agent_lost, retries and wall time");
        to.WriteLine("          --tests N                   tests in the batch (default 50)");
        to.WriteLine("          --seconds N                 how long each test sleeps (default 10)");
        to.WriteLine("          --kills N                   SIGKILLs of the agent (default 10)");
        to.WriteLine("          --testdispatch PATH         the binary");
        to.WriteLine("          --keep                      leave the scratch dir behind");
        to.WriteLine("  ssh     the ssh transport against loopback sshds it starts (needs root for sshd, and GNU parallel for the baseline):");
        to.WriteLine("          run --wait warm and cold vs bare rsync + ssh over a warm master; a batch over the hosts vs parallel -S");
        to.WriteLine("          --iters N                   warm calls (default 20)");
        to.WriteLine("          --jobs N                    tests in the throughput run (default 200)");
        to.WriteLine("          --hosts N                   sshds, one ssh machine each (default 4)");
        to.WriteLine("          --testdispatch PATH         the binary");
        to.WriteLine("  grep    LogSearch vs GNU grep -r -n and rg (if installed) over 10k generated logs (~1 GB, page cache warm), same run:");
        to.WriteLine("          median wall time per tool and case, hit counts, ratios");
        to.WriteLine("          --files N                   logs to generate (default 10000)");
        to.WriteLine("          --mb N                      their total size in MB (default 1024)");
        to.WriteLine("          --runs N                    timed runs per tool and case, after one warm-up (default 3)");
        to.WriteLine("          --variants                  also compare regex engines, the literal prefilter and buffer sizes");
        to.WriteLine("          --dir PATH; --keep");
        to.WriteLine("  diff    LogDiff on two generated ~100 MB logs (the same test run twice, five real changes), each comparison in a");
        to.WriteLine("          fresh process: wall and CPU time, peak memory (VmHWM) beside an empty child's, the diff found");
        to.WriteLine("          --mb N                      size of each log in MB (default 100)");
        to.WriteLine("          --runs N                    fresh processes, each comparing twice: cold (JIT) and warm (default 1)");
        to.WriteLine("          --dir PATH; --keep");
        to.WriteLine("  results what the agent does with a run's JUnit reports once it is over (read them, write results.jsonl and the");
        to.WriteLine("          case index), on generated reports, each size in a fresh process: wall and CPU time, peak memory (VmHWM),");
        to.WriteLine("          streamed and against a baseline holding every case in memory");
        to.WriteLine("          --mb 1,200                  report sizes in MB");
        to.WriteLine("          --dir PATH; --keep");
        to.WriteLine("  case-history  'history CASE' (read cases.jsonl, find the case's runs) on generated case indexes of ten cases a run,");
        to.WriteLine("          each size in a fresh process: wall and CPU time, peak memory (VmHWM), ratio to the smallest size's time");
        to.WriteLine("          --runs 1000,10000,100000    history sizes in runs (1000000 needs some GB of memory)");
        to.WriteLine("          --dir PATH; --keep");
        to.WriteLine("  lookback  'testdispatch grep' and 'diff' as users run them (the binary, as for dispatch) on a state dir of runs with");
        to.WriteLine("          generated logs, against grep -r and rg over the same logs and GNU diff -u on the same two: median wall and CPU");
        to.WriteLine("          time of the whole process, hits, peak memory, ratios");
        to.WriteLine("          --runs N                    runs in the store, each with a log (default 10000)");
        to.WriteLine("          --mb N                      their logs' total size in MB (default 1024)");
        to.WriteLine("          --diff-mb N                 size of each diffed log in MB (default 100)");
        to.WriteLine("          --repeats N                 timed calls per tool and case, after one warm-up (default 3)");
        to.WriteLine("          --testdispatch PATH; --dir PATH; --keep");
        to.WriteLine("  fleet   a batch over 4 local machines, one failing every launch (copy_failed), vs the same batch on 3 healthy ones:");
        to.WriteLine("          entries run on the bad machine before health held it, entries failed in the end, tries, wall time");
        to.WriteLine("          --entries N                 entries in the batch (default 40)");
        to.WriteLine("          --test-ms N                 how long each test sleeps (default 250)");
        to.WriteLine("          --retries N                 retries of each entry (default 1)");
        to.WriteLine("          --keep                      leave the scratch dir behind");
    }
}
