"""Python SDK clients whose callbacks answer as a labelled caller and record
what they were asked (C{Caller}), and the text of a tool's result
(C{textOf}), per-label callbacks that note each question
(C{notingCallbacks}) and the sessions that use them (C{notingClients}),
and callbacks that record progress and sampling
prompts (C{Recording}): what the integration tests of sampling and elicitation across
sessions share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mcp.types as types
from mcp import Client


def textOf(result: types.CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, types.TextContent), result
    return first.text


class Caller:
    """One Python SDK session's callbacks: they answer with the session's
    label and record every question they were asked, and every
    notification the session got."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.sampled: list[str] = []
        self.elicited: list[str] = []
        self.notifications: list[str] = []

    async def onSampling(
        self, context: Any, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        content = params.messages[0].content
        asked = content.text if isinstance(content, types.TextContent) else "?"
        self.sampled.append(asked)
        return types.CreateMessageResult(
            role="assistant",
            model=f"model-{self.label}",
            content=types.TextContent(type="text", text=f"{self.label} answers {asked}"),
        )

    async def onElicitation(self, context: Any, params: Any) -> types.ElicitResult:
        self.elicited.append(params.message)
        return types.ElicitResult(
            action="accept", content={"answer": f"{self.label} says {params.message}"}
        )

    async def onMessage(self, message: Any) -> None:
        root = getattr(message, "root", message)
        method = getattr(root, "method", None)
        if isinstance(method, str):
            self.notifications.append(method)

    def client(self, url: str, mode: str) -> Client:
        return Client(
            url,
            mode=mode,
            sampling_callback=self.onSampling,
            elicitation_callback=self.onElicitation,
            message_handler=self.onMessage,
        )


Factory = Callable[[str], Any]


def notingCallbacks(note: Callable[[str, str], None]) -> tuple[Factory, Factory]:
    """The callbacks' makers for a client labelled C{label}: its sampling
    callback answers "answer from LABEL", its elicitation callback
    declines, and each calls C{note(label, "sampling" or "elicitation")}."""

    def sampler(label: str) -> Any:
        async def onSampling(context: Any, params: types.CreateMessageRequestParams) -> Any:
            note(label, "sampling")
            return types.CreateMessageResult(
                role="assistant",
                model="m",
                content=types.TextContent(type="text", text=f"answer from {label}"),
            )

        return onSampling

    def elicitor(label: str) -> Any:
        async def onElicit(context: Any, params: Any) -> Any:
            note(label, "elicitation")
            return types.ElicitResult(action="decline")

        return onElicit

    return sampler, elicitor


def notingClients(note: Callable[[str, str], None]) -> Callable[..., Client]:
    """A maker of Python SDK sessions with L{notingCallbacks}' callbacks:
    C{client(url, label, **options)} is a legacy-mode session on C{url}
    whose sampling and elicitation callbacks answer as C{label} and call
    C{note}; C{options} go to the session as they are (its roots callback,
    say)."""
    sampler, elicitor = notingCallbacks(note)

    def client(url: str, label: str, **options: Any) -> Client:
        return Client(
            url,
            mode="legacy",
            sampling_callback=sampler(label),
            elicitation_callback=elicitor(label),
            **options,
        )

    return client


class Recording:
    """A client's progress and sampling callbacks: each progress report and
    each sampling prompt noted, every sampling request answered "from the
    SDK" by the model "fake"."""

    def __init__(self) -> None:
        self.progress: list[tuple[float, float | None, str | None]] = []
        self.prompts: list[Any] = []

    async def onProgress(self, progress: float, total: float | None, message: str | None) -> None:
        self.progress.append((progress, total, message))

    async def onSampling(self, context: Any, params: types.CreateMessageRequestParams) -> Any:
        self.prompts.append(params.messages[0].content)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="from the SDK"),
            model="fake",
        )
