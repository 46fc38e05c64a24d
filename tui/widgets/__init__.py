"""The chat's widgets, one a file, each with its own CSS (``DEFAULT_CSS``); ``tui/app.tcss``
holds only the app's layout (the top bar, the conversation beside the passages panel, the
status line).

In the main screen, top to bottom: the conversation of :class:`QuestionMessage` and
:class:`AnswerMessage`, the :class:`PassagesPanel` of the selected answer (rows:
:class:`PassageItem`, :class:`PeriodItem`), and the :class:`PromptInput`; a new chat opens on
the library's :class:`StoriesList` (rows: :class:`StoryItem`); F1's
:class:`KeysPanel` docks at the right. Over it: :class:`ArticleScreen` (a passage's whole
article), :class:`PromptScreen` and :class:`ChoiceScreen` (small :class:`Dialog` boxes).
"""
from tui.widgets.answer_message import AnswerMessage, answer_markdown
from tui.widgets.article_screen import ArticleScreen
from tui.widgets.choice_screen import ChoiceScreen
from tui.widgets.dialog import Dialog
from tui.widgets.keys_panel import KeysPanel
from tui.widgets.passage_item import PassageItem, PeriodItem, passage_content
from tui.widgets.passages_panel import PassagesPanel
from tui.widgets.prompt_input import PromptInput
from tui.widgets.prompt_screen import PromptScreen
from tui.widgets.question_message import QuestionMessage
from tui.widgets.stories_list import StoriesList, StoryItem
from tui.widgets.text import QUOTE_STYLE

__all__ = ["QUOTE_STYLE", "AnswerMessage", "ArticleScreen", "ChoiceScreen", "Dialog", "KeysPanel", "PassageItem",
           "PassagesPanel", "PeriodItem", "PromptInput", "PromptScreen", "QuestionMessage", "StoriesList", "StoryItem",
           "answer_markdown", "passage_content"]
