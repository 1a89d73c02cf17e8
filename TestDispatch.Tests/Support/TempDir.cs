namespace TestDispatch.Tests.Support;

/// <summary>
/// A directory on the real disk for one test, removed afterwards, with whatever still runs in it ended first (see
/// <see cref="Leftovers"/>: what had to be killed fails the run at its end).
/// </summary>
public sealed class TempDir : IDisposable
{
    public TempDir(string? prefix = null)
    {
        Path = Directory.CreateTempSubdirectory(prefix ?? "testdispatch-test-").FullName;
        Leftovers.Watch(Path, Leftovers.Owner());
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        Leftovers.End(Path, TimeSpan.FromSeconds(10));
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
