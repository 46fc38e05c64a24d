"""F1's keys panel: the chat's own keys first, then those of the focused widget.

Textual's help panel lists the focused widget's bindings first; with the prompt focused
that is some forty text-editing keys before the chat's own. This panel groups the same
active bindings (remapped keys included) with the app's and the screen's on top.
"""
from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static


class KeysPanel(VerticalScroll, can_focus=False):
    """Docked at the right, kept current as the focus moves."""

    DEFAULT_CSS = """
    KeysPanel {
        dock: right;
        width: 33%;
        min-width: 30;
        max-width: 60;
        height: 1fr;
        padding: 0 1;
        border-left: vkey $foreground 30%;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="keys-table")

    def on_mount(self) -> None:
        self.show_keys()
        self.screen.bindings_updated_signal.subscribe(self, lambda _: self.call_after_refresh(self.show_keys))

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def show_keys(self) -> None:
        if self.is_attached:
            self.query_one("#keys-table", Static).update(keys_table(self.app, self.screen))


def keys_table(app: App, screen: Screen) -> Table:
    """The screen's active bindings as a table: the chat's own (the app's, and any widget's that
    has an id: those keymap.json remaps, such as the prompt's Send), then the screen's, then the
    focused widget's and its containers' (each under its title), one row per action."""
    groups: dict[object, dict[str, list]] = {}
    for namespace, binding, _enabled, _tooltip in screen.active_bindings.values():
        if not binding.system:
            group = app if binding.id else namespace
            groups.setdefault(group, {}).setdefault(binding.action, []).append(binding)
    table = Table.grid(padding=(0, 1))
    table.add_column(justify="right", style="bold")
    table.add_column()
    for namespace in sorted(groups, key=lambda n: 0 if n is app else 1 if n is screen else 2):
        title = app.title if namespace is app else getattr(namespace, "BINDING_GROUP_TITLE", None) or \
            type(namespace).__name__
        table.add_row("", Text(title, style="underline"))
        for bindings in groups[namespace].values():
            keys = " ".join(dict.fromkeys(app.get_key_display(b) for b in bindings))
            table.add_row(keys, bindings[0].description or bindings[0].action)
        table.add_row("", "")
    return table
