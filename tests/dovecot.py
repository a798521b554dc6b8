"""A real IMAP server for the tests: Debian's Dovecot, on a loopback port of its own, with a
configuration, a mail folder and a TLS certificate made for the run.

Dovecot will not give mail to root, so as root (CI) its mail processes run as `nobody`; as
anyone else, Dovecot runs wholly as that user. The folder it uses is outside pytest's private
temporary folder, which other users cannot enter.
"""

from __future__ import annotations

import getpass
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .smtp import free_port, make_certificate

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "feedback", "imap-pw-for-tests"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {uid}
last_valid_uid = {uid}
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


class Dovecot:
    def __init__(self, root: Path) -> None:
        self.root, self.port = root, free_port()
        self.cert, key = make_certificate(root)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("nobody")
            login_user, internal_user = "dovenull", "dovecot"
        else:
            owner = pwd.getpwuid(os.geteuid())
            login_user = internal_user = getpass.getuser()
        self.uid, gid = owner.pw_uid, owner.pw_gid
        for name in ("run", "state", "mail", "home"):
            (root / name).mkdir()
        for name in ("mail", "home"):
            os.chown(root / name, self.uid, gid) if os.geteuid() == 0 else None
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        self.config = root / "dovecot.conf"
        self.config.write_text(
            CONFIG.format(
                root=root,
                cert=self.cert,
                key=key,
                port=self.port,
                uid=self.uid,
                gid=gid,
                login_user=login_user,
                internal_user=internal_user,
            )
        )

    def start(self) -> None:
        # In the foreground (-F): the test owns the process and its end.
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=(self.root / "stderr.log").open("wb"),
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        logs = [
            (self.root / n).read_text()[-1500:]
            for n in ("stderr.log", "dovecot.log")
            if (self.root / n).exists()
        ]
        raise RuntimeError(f"dovecot did not listen: {' '.join(logs)}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def url(self, folder: str = "INBOX") -> str:
        return f"imaps://{USER}@127.0.0.1:{self.port}/{folder}"


@contextmanager
def running_dovecot() -> Iterator[Dovecot]:
    root = Path(tempfile.mkdtemp(prefix="digest-dovecot-"))
    root.chmod(0o755)  # the mail processes, another user, must reach the mail folder
    server = Dovecot(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
