namespace TestDispatch.Engine.IO;

/// <summary>
/// The modes of what TestDispatch makes on the controller: everything is its user's alone (directories 0700, files 0600),
/// whatever the umask, as ssh's StrictModes wants of ~/.ssh.
/// </summary>
public static class FileModes
{
    public const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
}
