"""Form-like dialogs (intake, survey, self-check) declared as data and run by pure transitions.

See README.md in this folder for the state diagram.
"""

from core.conversation.engine import (
    Command,
    ConversationKey,
    ConversationState,
    JsonValue,
    PastAttempt,
    Reply,
    Status,
    answer,
    decode_answers,
    encode_answers,
    start,
)
from core.conversation.fields import (
    MAX_CHOICES,
    AnswerValue,
    AskIf,
    Choice,
    Flow,
    Question,
    QuestionKind,
    Validator,
    date_answer,
    integer_answer,
    parsed_answer,
    text_answer,
)
from core.conversation.store import (
    ConversationStore,
    InMemoryConversationStore,
    SessionConversationStore,
    SqlAlchemyConversationStore,
)

__all__ = [
    "MAX_CHOICES",
    "AnswerValue",
    "AskIf",
    "Choice",
    "Command",
    "ConversationKey",
    "ConversationState",
    "ConversationStore",
    "Flow",
    "InMemoryConversationStore",
    "JsonValue",
    "PastAttempt",
    "Question",
    "QuestionKind",
    "Reply",
    "SessionConversationStore",
    "SqlAlchemyConversationStore",
    "Status",
    "Validator",
    "answer",
    "date_answer",
    "decode_answers",
    "encode_answers",
    "integer_answer",
    "parsed_answer",
    "start",
    "text_answer",
]
