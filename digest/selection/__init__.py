"""The selection stage: the lead story, editor's choice and popular, each decision with its reason.

select (the rules, in order) uses scoring (page views and comments with recency decay), filters
(include/exclude), and picks (the editor's pins); page views come from digest.analytics;
explain turns the decisions into the `--explain` table.
"""

from digest.selection.explain import EXPLAIN_COLUMNS, explain_rows
from digest.selection.picks import NO_PICKS, Picks, combine, load_picks, picks_from
from digest.selection.select import FIRST_ISSUE, Choice, drop_last, issue_window, select

__all__ = [
    "EXPLAIN_COLUMNS",
    "FIRST_ISSUE",
    "NO_PICKS",
    "Choice",
    "Picks",
    "combine",
    "drop_last",
    "explain_rows",
    "issue_window",
    "load_picks",
    "picks_from",
    "select",
]
