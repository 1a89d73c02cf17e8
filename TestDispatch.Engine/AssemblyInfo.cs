using System.Runtime.Versioning;

// The engine relies on Linux facts: flock(2), process groups and sessions, /proc. See shared/DISK.md.
[assembly: SupportedOSPlatform("linux")]
