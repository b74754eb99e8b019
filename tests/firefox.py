"""Debian's Firefox ESR, driven over WebDriver BiDi with a plain WebSocket.

Playwright drives only its own Firefox build: with Debian's firefox-esr its
BiDi mode fails on opening a page (``emulation.setMediaFeaturesOverride`` is
unknown to ESR). The few commands the media tests need are sent here
directly: open a page, run a script and read its result.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import websockets

from tests.conftest import free_port

FIREFOX = Path("/usr/bin/firefox-esr")
PULSEAUDIO = Path("/usr/bin/pulseaudio")
# A fake microphone (a tone) without asking, and sound without a gesture
# (scripts click here, which is no user gesture).
PREFERENCES = """
user_pref("media.navigator.permission.disabled", true);
user_pref("media.navigator.streams.fake", true);
user_pref("media.autoplay.default", 0);
user_pref("media.autoplay.block-webaudio", false);
user_pref("media.cubeb.backend", "pulse");
user_pref("remote.active-protocols", 1);
"""


class Firefox:
    def __init__(self) -> None:
        self.home = tempfile.mkdtemp(prefix="tribune-firefox-")
        self.profile = Path(self.home, "profile")
        self.profile.mkdir()
        (self.profile / "user.js").write_text(PREFERENCES)
        # Headless Firefox's AudioContext runs only with a sound server: a
        # PulseAudio of its own, playing into a null sink.
        self.sound: subprocess.Popen[bytes] | None = None
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.socket: Any = None
        self.ids = itertools.count(1)
        self.context = ""

    async def start(self) -> None:
        runtime = Path(self.home, "pulse")
        runtime.mkdir()
        socket = runtime / "native"
        self.sound = subprocess.Popen(
            [
                str(PULSEAUDIO),
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--load=module-null-sink sink_name=tribune",
                f"--load=module-native-protocol-unix socket={socket} auth-anonymous=1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PULSE_RUNTIME_PATH": str(runtime), "HOME": self.home},
        )
        for _ in range(50):
            if socket.exists():
                break
            await asyncio.sleep(0.1)
        self.process = subprocess.Popen(
            [str(FIREFOX), "--headless", "--remote-debugging-port", str(self.port), "--profile", str(self.profile)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PULSE_SERVER": f"unix:{socket}"},
            # Its content processes are its children: they end with it.
            start_new_session=True,
        )
        for _ in range(150):
            try:
                self.socket = await websockets.connect(f"ws://127.0.0.1:{self.port}/session", max_size=None)
                break
            except OSError:
                await asyncio.sleep(0.2)
        else:
            raise RuntimeError("Firefox did not open its WebDriver BiDi port")
        await self.command("session.new", capabilities={})
        tree = await self.command("browsingContext.getTree")
        self.context = tree["contexts"][0]["context"]

    async def command(self, method: str, **params: Any) -> Any:
        number = next(self.ids)
        await self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(await self.socket.recv())
            if message.get("id") == number:
                if message.get("type") == "error":
                    raise RuntimeError(f"{method}: {message.get('error')}: {message.get('message')}")
                return message["result"]

    async def goto(self, url: str) -> None:
        await self.command("browsingContext.navigate", context=self.context, url=url, wait="complete")

    async def evaluate(self, expression: str) -> Any:
        """The value of ``expression`` (awaited if a promise), as JSON."""
        result = await self.command(
            "script.evaluate",
            expression=f"(async () => JSON.stringify(await ({expression})))()",
            target={"context": self.context},
            awaitPromise=True,
        )
        if result["type"] == "exception":
            raise RuntimeError(result["exceptionDetails"]["text"])
        value = result["result"].get("value")
        return None if value is None else json.loads(value)

    async def wait_for(self, expression: str, timeout: float = 15) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"still false in Firefox after {timeout} s: {expression}")
            await asyncio.sleep(0.25)

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        if self.sound is not None:
            self.sound.kill()
            self.sound.wait(timeout=10)
        shutil.rmtree(self.home, ignore_errors=True)
