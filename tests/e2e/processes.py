"""What the whole-process tests share: stopping a `coalition-bot run` process as an operator would."""

from __future__ import annotations

import asyncio
import signal

GRACE_SECONDS = 30


async def stop_gracefully(process: asyncio.subprocess.Process) -> int:
    """SIGTERM (if it still runs), then its exit status; killed if it has not stopped within GRACE_SECONDS."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(process.wait(), GRACE_SECONDS)
    finally:
        if process.returncode is None:
            process.kill()
