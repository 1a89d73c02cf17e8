using System.Security.Cryptography;

namespace TestDispatch.Engine.Runs;

/// <summary>
/// Ids are 12 random lowercase hex digits: short enough to type, and random (not time-ordered) so any
/// short prefix is likely unique, like git and docker ids.
/// </summary>
public static class RunIds
{
    public static string New() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
}
