using System.Collections.ObjectModel;
using Terminal.Gui.App;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;
using TestDispatch.Engine;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.App;

/// <summary>
/// 'd': dispatch a test directory. Tab in the path completes directory names; the machine list marks
/// busy machines (with who holds one from another state dir, and since when) and those out of service; F2 chooses to queue behind a busy machine's runs. Errors (busy, missing
/// dir, bad timeout) stay in the dialog with everything typed kept.
/// </summary>
public sealed class DispatchDialog : Window
{
    private readonly IApplication _app;
    private readonly Lab _lab;
    private readonly TextField _testDir = new() { X = 12, Y = 0, Width = Dim.Fill(1) };
    private readonly ListView _machines = new() { X = 12, Y = 2, Width = Dim.Fill(1), Height = 5 };
    private readonly TextField _command = new() { X = 12, Y = 8, Width = Dim.Fill(1) };
    private readonly TextField _timeout = new() { X = 12, Y = 10, Width = 12 };
    private readonly PlainLabel _queue = new() { X = 12, Y = 11, Width = Dim.Fill(1), Height = 1 };
    private readonly PlainLabel _error = new() { X = 1, Y = 12, Width = Dim.Fill(1), Height = 2 };
    private readonly IReadOnlyList<MachineState> _states;
    private readonly string _initialTestDir;
    private bool _busy;
    private bool _queueIfBusy;
    private bool _confirmDiscard;

    public DispatchDialog(IApplication app, Lab lab, string? machine)
    {
        _app = app;
        _lab = lab;
        Title = "Dispatch a test (Enter: dispatch, Tab: complete / next field, Esc: close)";
        Width = Dim.Percent(90);
        Height = 17;
        X = Pos.Center();
        Y = Pos.Center();
        _states = lab.Machines();
        _machines.SetSource(new ObservableCollection<string>(_states.Select(m =>
            !m.Machine.CanRunTests ? $"{m.Name}  (ssh: cannot run tests yet)"
            : m.State is not (MachineState.Idle or MachineState.Busy) ? $"{m.Name}  ({m.State})"
            : m.HeldBy is { } h ? $"{m.Name}  (busy: held by {TerminalText.Escape(h.User)}@{TerminalText.Escape(h.Host)} since {Format.When(h.Since, DateTimeOffset.UtcNow)}" +
                $"{(m.CurrentRun is { } waiting ? $", run {waiting} waits" : "")})"
            : m.CurrentRun is { } run ? $"{m.Name}  (busy: {run}{(m.Queue.Count > 0 ? $", {m.Queue.Count} queued" : "")})"
            : $"{m.Name}  {string.Join(",", m.Tags)}")));
        int selected = Math.Max(0, _states.ToList().FindIndex(m => m.Name == machine));
        _machines.SelectedItem = selected;
        _testDir.Text = _initialTestDir = Environment.CurrentDirectory.TrimEnd('/') + "/";
        Button ok = new() { Text = "Dispatch", X = Pos.Center() - 10, Y = 14, IsDefault = true };
        Button cancel = new() { Text = "Close", X = Pos.Center() + 4, Y = 14 };
        Add(
            new Label { Text = "Test dir", X = 1, Y = 0 }, _testDir,
            new Label { Text = "Machine", X = 1, Y = 2 }, _machines,
            new Label { Text = "Command", X = 1, Y = 8 }, _command,
            new Label { Text = "(optional: program and arguments separated by spaces; default from configuration)", X = 12, Y = 9 },
            new Label { Text = "Timeout", X = 1, Y = 10 }, _timeout,
            new Label { Text = $"(optional, e.g. 90s, 5m; default {Duration.Format(lab.Config.Defaults.Timeout)})", X = 25, Y = 10 },
            _queue, _error, ok, cancel);
        ShowQueue();
        ok.Accepting += (_, e) =>
        {
            e.Handled = true;
            Dispatch();
        };
        cancel.Accepting += (_, e) =>
        {
            e.Handled = true;
            app.RequestStop();
        };
        _testDir.KeyDown += (_, key) =>
        {
            if (key == Key.Tab && Complete())
            {
                key.Handled = true;
            }
        };
        // Subviews see keys first (a text field would type a confirming 'y'), so every one routes here first.
        foreach (View view in new View[] { _testDir, _machines, _command, _timeout, this })
        {
            view.KeyDown += (_, key) => key.Handled = key.Handled || HandleKey(key);
        }
        _testDir.SetFocus();
    }

    private bool HandleKey(Key key)
    {
        if (_confirmDiscard)
        {
            _confirmDiscard = false;
            if (key == new Key('y') || key == new Key('Y'))
            {
                _app.RequestStop();
            }
            else
            {
                _error.Text = "";
            }
            return true;
        }
        if (key == Key.Esc)
        {
            if (HasUnsavedInput)
            {
                _confirmDiscard = true;
                _error.Text = "Discard what you typed? y to close, any other key to keep editing";
            }
            else
            {
                _app.RequestStop();
            }
            return true;
        }
        if (key == Key.Enter)
        {
            Dispatch();
            return true;
        }
        if (key == Key.F2)
        {
            _queueIfBusy = !_queueIfBusy;
            ShowQueue();
            return true;
        }
        return false;
    }

    private void ShowQueue() =>
        _queue.Text = $"[{(_queueIfBusy ? 'x' : ' ')}] queue if busy: wait behind the machine's runs (F2 toggles)";

    private bool HasUnsavedInput =>
        _testDir.Text != _initialTestDir || _command.Text.Length > 0 || _timeout.Text.Length > 0;

    /// <summary>The run dispatched (created or reused), once Dispatch succeeded.</summary>
    public Run? Dispatched { get; private set; }

    /// <summary>Completes the directory name being typed; false when there is nothing to complete (Tab moves on).</summary>
    private bool Complete()
    {
        string text = _testDir.Text;
        string directory = text.EndsWith('/') ? text : Path.GetDirectoryName(text) ?? "";
        string prefix = text.EndsWith('/') ? "" : Path.GetFileName(text);
        if (directory.Length == 0 || !Directory.Exists(directory))
        {
            return false;
        }
        List<string> matches = [.. Directory.EnumerateDirectories(directory)
            .Select(Path.GetFileName).OfType<string>()
            .Where(name => name.StartsWith(prefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)];
        if (matches.Count == 0)
        {
            _error.Text = $"no directory in {directory} starts with '{prefix}'";
            return true;
        }
        string common = matches.Aggregate((a, b) => new string([.. a.Zip(b).TakeWhile(p => p.First == p.Second).Select(p => p.First)]));
        string completed = Path.Combine(directory, common) + (matches.Count == 1 ? "/" : "");
        if (completed == text && matches.Count == 1)
        {
            return false;
        }
        _testDir.Text = completed;
        _testDir.MoveEnd();
        _error.Text = matches.Count > 1 ? string.Join("  ", matches.Take(12)) + (matches.Count > 12 ? "  …" : "") : "";
        return true;
    }

    private void Dispatch()
    {
        if (_busy)
        {
            return;
        }
        string testDir = _testDir.Text.Trim();
        if (_machines.SelectedItem is not int index || index < 0 || index >= _states.Count)
        {
            _error.Text = "choose a machine";
            return;
        }
        string machine = _states[index].Name;
        TimeSpan? timeout = null;
        if (_timeout.Text.Trim() is { Length: > 0 } t)
        {
            timeout = Duration.ParseTimeLimit(t, "timeout", out string? problem);
            if (problem is not null)
            {
                _error.Text = problem;
                return;
            }
        }
        string[] command = _command.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        bool queue = _queueIfBusy;
        _busy = true;
        _error.Text = $"dispatching {testDir} to {machine}…";
        _ = Task.Run(async () =>
        {
            string? error = null;
            Run? run = null;
            try
            {
                PrepareOutcome outcome = await _lab.DispatchAsync(testDir, machine, command.Length > 0 ? command : null, timeout, queue);
                if (outcome.Kind == PrepareKind.Busy)
                {
                    error = outcome.BeingCancelled
                        ? $"machine_busy: {machine} is busy with run {outcome.Run.Id} ({outcome.Run.TestDir}), which is being cancelled; dispatch again once it has ended"
                        : $"machine_busy: {machine} is busy with run {outcome.Run.Id} ({outcome.Run.TestDir}); press F2 to queue behind it, pick another machine or cancel that run";
                }
                else
                {
                    run = outcome.Run;
                }
            }
            catch (DispatchException e)
            {
                error = $"{e.ErrorCode}: {e.Message}";
            }
            _app.Invoke(() =>
            {
                _busy = false;
                if (run is not null)
                {
                    Dispatched = run;
                    _app.RequestStop();
                }
                else
                {
                    _error.Text = error ?? "";
                }
            });
        });
    }
}
