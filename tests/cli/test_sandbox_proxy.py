"""C{mcpgateway sandbox show} of a server with an allow list: enforced by
the gateway's proxy under bubblewrap, and what the proxy refused."""

from __future__ import annotations

from typing import Any

from mcpgateway.cli.sandbox import showText

LAYOUT: dict[str, Any] = {
    "readOnly": [],
    "writable": [],
    "masked": [],
    "private": [],
    "notes": [],
}


def document(mechanism: str, **more: Any) -> dict[str, Any]:
    return {
        "server": "gh",
        "confined": True,
        "setting": "on",
        "gatewayDefault": "auto",
        "mechanism": mechanism,
        "network": {"mode": "allow", "allowedDomains": ["api.github.com"]},
        "layout": LAYOUT,
        "syscalls": "filtered",
        "syscallFilter": True,
        **more,
    }


def test_under_bubblewrap_the_allow_list_goes_through_the_proxy() -> None:
    lines = showText(document("bwrap"))
    assert "network: allow (api.github.com: through the gateway's proxy)" in lines


def test_under_landlock_the_allow_list_goes_through_the_proxy_by_port() -> None:
    lines = showText(document("landlock", landlockAbi=4))
    assert (
        "network: allow (api.github.com: through the gateway's proxy, by port only under"
        " Landlock)" in lines
    )


def test_under_landlock_before_abi_4_the_allow_list_is_the_host_network() -> None:
    lines = showText(document("landlock", landlockAbi=3))
    assert (
        "network: allow (api.github.com: not enforced without bubblewrap: the host's network)"
        in lines
    )


def test_what_the_running_gateways_proxy_refused() -> None:
    proxied = {"open": 1, "refused": 3, "refusedHosts": ["evil.example:443"]}
    lines = showText(document("bwrap", proxy=proxied))
    assert "proxy: 1 open, 3 refused (refused: evil.example:443)" in lines
