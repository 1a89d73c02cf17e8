namespace TestDispatch.Engine.Results;

/// <summary>A JUnit report found for a run: its full path, and the short name shown with its cases and errors ("artifacts/junit.xml").</summary>
public sealed record ReportFile(string Path, string Name);
