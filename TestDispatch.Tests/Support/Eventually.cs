namespace TestDispatch.Tests.Support;

/// <summary>Waits for a condition with a deadline, never a fixed sleep.</summary>
public static class Eventually
{
    public static async Task<T> Get<T>(Func<T?> probe, TimeSpan? within = null, string? what = null) where T : class =>
        await GetAsync(() => Task.FromResult(probe()), within, what);

    /// <summary>The same with a probe that awaits (a real process run to look, say).</summary>
    public static async Task<T> GetAsync<T>(Func<Task<T?>> probe, TimeSpan? within = null, string? what = null) where T : class
    {
        DateTime deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what ?? "a condition"}");
            }
            await Task.Delay(25);
        }
    }

    public static async Task True(Func<bool> condition, TimeSpan? within = null, string? what = null) =>
        await Get(() => condition() ? "" : null, within, what);
}
