"""``wyoming-qwen-tts health``: a Describe round trip against a running server."""

from __future__ import annotations

import asyncio
import sys

from wyoming.client import AsyncClient
from wyoming.info import Describe, Info

from wyoming_qwen_tts.app import runtime


def health(uri: str | None, timeout: float) -> int:
    """Describe round trip: 0 when an Info with a TTS program comes back, else 1 and one line.

    Without ``uri``, checks the server running on this machine (the address it announced)."""
    if uri is None:
        uri, problem = _announced_server()
        if uri is None:
            print(f"wyoming-qwen-tts health: unhealthy: {problem}", file=sys.stderr)
            return 1
    try:
        info = asyncio.run(_describe(uri, timeout))
    except TimeoutError:
        problem = f"no answer to Describe from {uri} within {timeout:g} s"
    except ConnectionRefusedError:
        problem = f"cannot connect to {uri}: connection refused (is the server running?)"
    except EOFError:
        problem = f"{uri} closed the connection without answering Describe"
    except OSError as err:
        problem = f"cannot talk to {uri}: {err}"
    except ValueError as err:
        problem = f"cannot check {uri}: {err}"
    else:
        programs = [program for program in info.tts if program.installed]
        if programs:
            voices = sum(len(program.voices) for program in programs)
            print(f"healthy: {programs[0].name} at {uri}, {voices} voices")
            return 0
        problem = f"{uri} answered Describe but offers no text-to-speech program"
    print(f"wyoming-qwen-tts health: unhealthy: {problem}", file=sys.stderr)
    return 1


async def _describe(uri: str, timeout: float) -> Info:
    async with asyncio.timeout(timeout):
        async with AsyncClient.from_uri(uri) as client:
            await client.write_event(Describe().event())
            while True:
                event = await client.read_event()
                if event is None:
                    raise EOFError
                if Info.is_type(event.type):
                    return Info.from_event(event)


def _announced_server() -> tuple[str | None, str]:
    """The one running server's address, or None and why there is none to check."""
    uris = runtime.running_servers()
    if len(uris) == 1:
        return uris[0], ""
    if not uris:
        return None, (
            f"no server is running here: none has announced its address in {runtime.runtime_dir()}"
            " (a server does once it listens, after loading its models); "
            "pass --uri to check one elsewhere"
        )
    return None, f"{len(uris)} servers are running here ({', '.join(uris)}): pass --uri to pick one"
