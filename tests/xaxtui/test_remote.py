"""The remote client without a server: target parsing, the ssh command line, and how ssh's errors are classified.

The tests that need a real OpenSSH server are in ``tests/e2e/test_ssh.py`` (skipped where sshd is missing).
"""

import pytest

from xaxtui.remote import RemoteError, RemoteHost, RemoteTailSource, RemoteTarget, classify


def test_parse_targets():
    assert RemoteTarget.parse("gpu1") == RemoteTarget("gpu1")
    assert RemoteTarget.parse("me@gpu1:2222:/data/runs") == RemoteTarget("gpu1", "me", 2222, "/data/runs")
    assert RemoteTarget.parse("gpu1:/data/runs").runs_dir == "/data/runs"
    assert RemoteTarget.parse("gpu1:runs") == RemoteTarget("gpu1", None, None, "runs")
    assert RemoteTarget.parse("[::1]:2200").host == "::1"
    for bad in ("", "-oProxyCommand=x", "a b", "me@", "gpu1:99999"):
        with pytest.raises(RemoteError):
            RemoteTarget.parse(bad)
    argv = RemoteHost(RemoteTarget.parse("me@gpu1:2222"), ssh_options=()).ssh_argv("xaxengine ls")
    assert argv[:5] == ["ssh", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=15"]
    assert argv[-5:] == ["-p", "2222", "--", "me@gpu1", "xaxengine ls"]
    line = RemoteHost(RemoteTarget("h"), remote_cmd="xaxengine").engine_line("tail", "a b; rm -rf /", "--follow")
    assert line == "xaxengine tail 'a b; rm -rf /' --follow"


def test_classify_known_messages():
    """What a non-root user sees for an unreadable runs dir (as root we cannot make one; see the real test below)."""
    assert classify(1, "mkdir: cannot create directory '/data/runs': Permission denied\n", "h").startswith(
        "permission denied on h: mkdir"
    )
    assert "host key" in classify(255, "Host key verification failed.\n", "h")
    assert (
        classify(2, "xaxengine: error: run 'x' not found (...)\n", "h") == "run not found on h: run 'x' not found (...)"
    )


@pytest.mark.parametrize(
    "stderr",
    [
        "Timeout, server 10.0.0.7 not responding.\n",
        "Connection to 10.0.0.7 closed by remote host.\n",
        "client_loop: send disconnect: Broken pipe\n",
        "ssh: connect to host 10.0.0.7 port 22: Connection refused\n",
    ],
)
def test_a_dropped_link_is_retried_and_labelled_a_link_problem(stderr: str):
    source = RemoteTailSource(RemoteHost(RemoteTarget("10.0.0.7")), "run")
    verdict = source.verdict(255, stderr)
    assert verdict.retry and verdict.message and verdict.message.startswith("host unreachable: 10.0.0.7")


@pytest.mark.parametrize("stderr", ["root@h: Permission denied (publickey).\n", "Host key verification failed.\n"])
def test_auth_and_host_key_failures_are_not_retried(stderr: str):
    assert not RemoteTailSource(RemoteHost(RemoteTarget("h")), "run").verdict(255, stderr).retry
