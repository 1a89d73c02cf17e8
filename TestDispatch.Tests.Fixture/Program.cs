using System.Globalization;
using TestDispatch.Tests.Fixture.Commands;

// A small real program the integration tests start as separate OS processes, so the store's
// cross-process lock is tested with real processes (and real SIGKILLs), not threads.
return args switch
{
    ["hammer", var stateDir, var worker, var iterations, var machines] =>
        HammerCommand.Run(stateDir, worker, Count(iterations), Count(machines), compactAfterLines: null),
    ["hammer", var stateDir, var worker, var iterations, var machines, "--compact-after", var lines] =>
        HammerCommand.Run(stateDir, worker, Count(iterations), Count(machines), Count(lines)),
    ["hammer", var stateDir, var worker, var iterations, var machines, "--history"] =>
        HammerCommand.Run(stateDir, worker, Count(iterations), Count(machines), compactAfterLines: 40, history: true),
    ["history", var stateDir, var runs] => HistoryCommand.Run(stateDir, Count(runs)),
    ["hold-lock", var stateDir] => HoldLockCommand.Run(stateDir),
    ["watch", var stateDir] => WatchCommand.Run(stateDir),
    _ => Usage(),
};

static int Count(string text) => int.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);

static int Usage()
{
    Console.Error.WriteLine("""
        usage:
          hammer <stateDir> <workerId> <iterations> <machineCount> [--compact-after <lines>]
          hammer <stateDir> <workerId> <iterations> <machineCount> --history
          history <stateDir> <runs>
          hold-lock <stateDir>
          watch <stateDir>
        """);
    return 2;
}
