using System.Reflection;
using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: TestFramework("TestDispatch.Tests.Support.NothingLeftRunning", "TestDispatch.Tests")]

namespace TestDispatch.Tests.Support;

/// <summary>
/// xunit's own framework, with one look at the end of the run: if any test left a process running in its temporary
/// directories (see <see cref="Leftovers"/>), the run fails (a test assembly cleanup failure), naming each process, where it
/// ran and which test class left it. Without this a leak passes every test and loops on the machine for ever.
/// </summary>
public sealed class NothingLeftRunning(IMessageSink messageSink) : XunitTestFramework(messageSink)
{
    protected override ITestFrameworkExecutor CreateExecutor(AssemblyName assemblyName) =>
        new Executor(assemblyName, SourceInformationProvider, DiagnosticMessageSink);

    private sealed class Executor(AssemblyName assemblyName, ISourceInformationProvider sourceInformation, IMessageSink diagnostics)
        : XunitTestFrameworkExecutor(assemblyName, sourceInformation, diagnostics)
    {
        // xunit 2's own signature (async void): the runner waits for the assembly's finished message, not for this.
        protected override async void RunTestCases(IEnumerable<IXunitTestCase> testCases, IMessageSink executionMessageSink,
            ITestFrameworkExecutionOptions executionOptions)
        {
            using Runner runner = new(TestAssembly, testCases, DiagnosticMessageSink, executionMessageSink, executionOptions);
            await runner.RunAsync();
        }
    }

    private sealed class Runner(ITestAssembly assembly, IEnumerable<IXunitTestCase> testCases, IMessageSink diagnostics, IMessageSink execution,
        ITestFrameworkExecutionOptions options) : XunitTestAssemblyRunner(assembly, testCases, diagnostics, execution, options)
    {
        protected override async Task BeforeTestAssemblyFinishedAsync()
        {
            Leftovers.EndAll();
            if (Leftovers.KilledSoFar is { Count: > 0 } killed)
            {
                Aggregator.Add(new ProcessesLeftRunningException(
                    $"the suite left {killed.Count} processes running (killed now); each test must end what it starts:{Environment.NewLine}  " +
                    string.Join($"{Environment.NewLine}  ", killed)));
            }
            await base.BeforeTestAssemblyFinishedAsync();
        }
    }
}

/// <summary>What the end of the run fails with when tests left processes running: its name is all a terse log shows.</summary>
public sealed class ProcessesLeftRunningException(string message) : Exception(message);
