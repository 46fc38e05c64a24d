"""The chat's keys: F2 goes to the sources (Enter then opens an article) and back, and F1 lists
the chat's own keys before the prompt's text editing."""
from __future__ import annotations

import io

from rich.console import Console

from test_tui import Q2003, REPLY, article_shown, ask, fake_library, make_app, ready, run, showing, wait_for  # noqa: F401
from tui.widgets import PassagesPanel, PromptInput


def test_f2_goes_to_the_sources_and_back(fake_library):
    async def main():
        app = make_app(fake_library, REPLY, REPLY)
        async with app.run_test(size=(140, 40)) as pilot:
            await ask(pilot, Q2003)
            await ask(pilot, Q2003)  # two answers: Tab would have to pass both
            message = app.answers()[-1]
            await wait_for(pilot, lambda: showing(app, message), what="the sources of the last answer")
            await pilot.press("f2")
            listing = app.query_one(PassagesPanel).query_one("#passages-list")
            await wait_for(pilot, lambda: listing.has_focus, what="f2 to focus the sources")
            await pilot.press("enter")
            await wait_for(pilot, lambda: article_shown(app), what="Enter to open the source's article")
            await pilot.press("escape")
            await wait_for(pilot, lambda: listing.has_focus, what="the sources again after the article")
            await pilot.press("f2")
            await wait_for(pilot, lambda: app.query_one(PromptInput).has_focus, what="f2 back to the prompt")
            await pilot.press("f3")
            await wait_for(pilot, lambda: app.screen.has_class("-hide-passages"), what="f3 to hide the sources")
            await pilot.press("f2")
            await wait_for(pilot, lambda: listing.has_focus and not app.screen.has_class("-hide-passages"),
                           what="f2 to show and focus the hidden sources")
    run(main())


def test_f1_lists_the_chats_own_keys_first(fake_library):
    async def main():
        app = make_app(fake_library, REPLY)
        async with app.run_test(size=(140, 40)) as pilot:
            await ready(pilot)
            assert app.query_one(PromptInput).has_focus
            await pilot.press("f1")
            await wait_for(pilot, lambda: app.screen.query("KeysPanel"), what="the keys panel")
            await pilot.pause(0.1)
            console = Console(width=60, record=True, file=io.StringIO())
            console.print(app.screen.query_one("#keys-table").content)
            lines = [line.strip() for line in console.export_text().splitlines() if line.strip()]
            first_editing = lines.index("PromptInput")
            for own in ("New", "Sources", "Keys", "Send", "Previous answer"):
                at = next(i for i, line in enumerate(lines) if line.endswith(own))
                assert at < first_editing, (own, lines)
            assert len(lines) - first_editing > 10  # the editing keys are still listed, after
    run(main())
