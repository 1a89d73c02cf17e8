namespace TestDispatch.Engine.Machines;

/// <summary>
/// Who holds a machine right now, seen on the machine itself (<c>machines --holders --json</c>; the names are a contract):
/// <see cref="HeldBy"/> is null when it is free, <see cref="Error"/> says why it could not be looked at.
/// </summary>
public sealed record MachineHolder(string Name, LockHolder? HeldBy, string? Error);
