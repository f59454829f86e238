"""deploy/Dockerfile: the image builds, refuses to start off loopback without
authentication, serves, and its HEALTHCHECK tells healthy from not.

With a working container runtime (docker or podman) and the base image already
present (this test pulls nothing from an image registry), the image is built and
run until Docker calls it healthy. Otherwise the test says so (a UserWarning)
and runs the Dockerfile's own commands in a venv instead: the build stage's
C{pip wheel} on a copy of exactly what its COPY lines (and
C{deploy/Dockerfile.dockerignore}) put in the build context, the runtime
stage's venv, C{pip install} from those wheels, C{compileall} and plugin-cache
steps, then its CMD with its ENV (paths of the image mapped into a temporary
directory) and its HEALTHCHECK command. What a venv cannot do (apt-get, the
user, C{uv} without the package index) is checked as text.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.integration.gateway import REPO, selfSigned, waitFor
from tests.support.integration.container import IMAGE_RUNNER
from tests.support.mcpclient import RpcError, Session, bearer

pytestmark = pytest.mark.integration

DOCKERFILE = REPO / "deploy" / "Dockerfile"
DOCKERIGNORE = REPO / "deploy" / "Dockerfile.dockerignore"
COMPOSE = REPO / "deploy" / "compose.yaml"
BASE_IMAGE = "python:3.13-slim-trixie"
TAG = "mcpgateway:container-test"
VENV_PATH = "validated the Dockerfile's commands in a venv instead"


def venvInstead(why: str) -> None:
    """Warn that, with no container runtime (C{why}), the Dockerfile's
    commands are validated in a venv instead."""
    warnings.warn(f"{why}: {VENV_PATH}", UserWarning, stacklevel=2)


# -- the Dockerfile, parsed ----------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    text: str

    def exec(self) -> list[str]:
        """The JSON (exec) form's argv."""
        value = json.loads(self.text)
        assert isinstance(value, list), self.text
        return [str(v) for v in value]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def one(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert len(found) == 1, f"{keyword}: {found}"
        return found[0]


def parseDockerfile(text: str) -> list[Stage]:
    """Stages and their instructions (continuations joined, comments dropped)."""
    stages: list[Stage] = []
    logical = ""
    lines: list[str] = []
    for raw in text.splitlines():
        if raw.lstrip().startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            logical += raw.rstrip()[:-1] + " "
            continue
        logical += raw
        if logical.strip():
            lines.append(" ".join(logical.split()))
        logical = ""
    for line in lines:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        else:
            assert stages, f"{keyword} before FROM"
            stages[-1].instructions.append(Instruction(keyword, rest))
    return stages


def envOf(stage: Stage, base: dict[str, str]) -> dict[str, str]:
    """The ENV of C{stage}, C{$NAME} expanded against C{base} and earlier values."""
    env: dict[str, str] = {}
    for instruction in stage.all("ENV"):
        for word in shlex.split(instruction.text):
            key, sep, value = word.partition("=")
            assert sep, f"ENV {word}: use KEY=VALUE"
            env[key] = re.sub(
                r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), base.get(m.group(1), "")), value
            )
    return env


def runSteps(stage: Stage) -> list[list[str]]:
    """The RUN instructions of C{stage}, each as its C{&&}-joined commands
    (C{--mount} flags left out)."""
    runs = []
    for instruction in stage.all("RUN"):
        text = re.sub(r"^(--\S+\s+)+", "", instruction.text)
        runs.append([step.strip() for step in text.split(" && ")])
    return runs


def contextIncludes(path: str, patterns: list[str]) -> bool:
    """Whether a .dockerignore's C{patterns} keep C{path} in the build context
    (the last matching pattern wins; a directory's pattern covers what is inside)."""
    included = True
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        cleaned = pattern[1:] if negate else pattern
        cleaned = cleaned.strip("/")
        regex = fnmatch.translate(cleaned).replace(".*.*/", "(.*/)?")
        if cleaned.startswith("**/"):
            regex = "(.*/)?" + fnmatch.translate(cleaned[3:])
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            included = negate
    return included


def ignorePatterns() -> list[str]:
    return [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


# -- the shape (always checked) ------------------------------------------------------


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parseDockerfile(DOCKERFILE.read_text())


def test_two_stages_on_the_slim_trixie_python(stages: list[Stage]) -> None:
    assert [(s.base, s.name) for s in stages] == [(BASE_IMAGE, "build"), (BASE_IMAGE, "runtime")]
    (wheel,) = runSteps(stages[0])
    assert wheel == ['pip wheel --wheel-dir /wheels ".[team]" uv']


def test_runtime_user_entrypoint_command_and_healthcheck(stages: list[Stage]) -> None:
    runtime = stages[-1]
    user = runtime.one("USER").text
    assert re.fullmatch(r"\d+:\d+", user), f"USER {user}: numeric uid:gid, so runAsNonRoot works"
    assert all(int(n) >= 10000 for n in user.split(":")), user
    assert runtime.one("EXPOSE").text == "9100"
    assert json.loads(runtime.one("VOLUME").text) == ["/var/lib/mcpgateway"]
    entrypoint = runtime.one("ENTRYPOINT").exec()
    assert Path(entrypoint[0]).name == "tini" and entrypoint[1:] == ["--"]
    assert runtime.one("CMD").exec() == [
        *IMAGE_RUNNER,
        "mcpgateway",
        "--port",
        "tcp:9100:interface=0.0.0.0",
        "--config",
        "/etc/mcpgateway/config.json",
    ]
    health = runtime.one("HEALTHCHECK").text
    options, _, command = health.partition(" CMD ")
    assert json.loads(command) == [
        "/opt/mcpgateway/bin/python",
        "-P",  # nothing from the working directory: the state volume
        "-m",
        "mcpgateway.healthcheck",
    ]
    assert "--timeout=5s" in options.split()  # over the probe's own 2 s
    env = envOf(runtime, {"PATH": "/usr/bin"})
    assert env["MCPGATEWAY_HOME"] == env["HOME"] == "/var/lib/mcpgateway"
    assert env["MCPGATEWAY_AUTH_TOKENS"] == "/etc/mcpgateway/tokens.json"
    assert env["PATH"].split(":")[0] == "/opt/mcpgateway/bin"
    for key in ("NPM_CONFIG_CACHE", "UV_CACHE_DIR", "UV_TOOL_DIR", "UV_PYTHON_INSTALL_DIR"):
        assert env[key].startswith("/var/lib/mcpgateway/cache/"), key  # writable: the volume


def test_runtime_packages_and_user(stages: list[Stage]) -> None:
    apt, install, user = runSteps(stages[-1])
    assert apt[0] == "apt-get update"
    assert apt[1] == "apt-get install -y --no-install-recommends nodejs npm ca-certificates tini"
    assert apt[2] == "rm -rf /var/lib/apt/lists/*"
    assert install[0] == "python -m venv /opt/mcpgateway"
    assert "--no-index" in install[1] and '"mcpgateway[team]" uv' in install[1]
    assert "useradd --uid 10001 --gid 10001" in user[1]
    assert "install -d -o 10001 -g 10001 -m 0700 /var/lib/mcpgateway" in user[2]
    mount = stages[-1].all("RUN")[1].text
    assert mount.startswith("--mount=type=bind,from=build,source=/wheels,target=/wheels ")


def test_the_build_context_holds_what_the_copy_lines_need(stages: list[Stage]) -> None:
    patterns = ignorePatterns()
    for stage in stages:
        for copy in stage.all("COPY"):
            *sources, _ = copy.text.split()
            for source in (s for s in sources if not s.startswith("--")):
                path = REPO / source
                files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
                kept = [f for f in files if contextIncludes(str(f.relative_to(REPO)), patterns)]
                assert kept, f"COPY {source}: the build context holds none of it"
    needed = ["pyproject.toml", "README.md", "twisted/plugins/mcpgateway_plugin.py"]
    needed += [str(f.relative_to(REPO)) for f in (REPO / "mcpgateway").rglob("*.py")]
    assert [f for f in needed if not contextIncludes(f, patterns)] == []
    for dropped in (".venv/bin/python", ".cache/x", ".git/HEAD", "mcpgateway/__pycache__/a.pyc"):
        assert not contextIncludes(dropped, patterns), dropped


def test_compose_mounts_config_tokens_and_state() -> None:
    from ruamel.yaml import YAML

    compose = YAML(typ="safe").load(COMPOSE.read_text())
    gateway = compose["services"]["gateway"]
    assert gateway["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert "./etc:/etc/mcpgateway:ro" in gateway["volumes"]
    assert "state:/var/lib/mcpgateway" in gateway["volumes"]
    assert "state" in compose["volumes"]
    assert gateway["read_only"] is True and "/tmp" in gateway["tmpfs"]
    assert gateway["ports"] == ["9100:9100"]
    grace = int(str(gateway["stop_grace_period"]).rstrip("s"))
    assert grace >= 5 + 5 + 10, "the drain timeout (5 s) + children's stop (5 s) + margin"


# -- a container runtime, when one works ---------------------------------------------


def containerRuntime() -> tuple[str | None, str]:
    """The runtime to build with, or C{None} and why not."""
    for name in ("docker", "podman"):
        binary = shutil.which(name)
        if binary is None:
            continue
        info = subprocess.run([binary, "info"], capture_output=True, text=True, timeout=30)
        if info.returncode != 0:
            continue
        image = subprocess.run(
            [binary, "image", "inspect", BASE_IMAGE], capture_output=True, timeout=30
        )
        if image.returncode != 0:
            return None, f"{name} works but has no {BASE_IMAGE} image (this test pulls none)"
        return binary, name
    return None, "no container runtime"


@pytest.fixture(scope="module")
def runtime() -> tuple[str | None, str]:
    return containerRuntime()


def writeTokens(directory: Path) -> str:
    """A tokens file as `mcpgateway token new` writes it; returns the token."""
    token = "mcpgw_" + secrets.token_urlsafe(32)
    entry = {"sha256": hashlib.sha256(token.encode()).hexdigest(), "principal": "ci"}
    (directory / "tokens.json").write_text(json.dumps({"version": 1, "tokens": [entry]}))
    return token


def test_the_image_builds_refuses_without_auth_and_turns_healthy(
    runtime: tuple[str | None, str], tmp_path: Path
) -> None:
    binary, why = runtime
    if binary is None:
        venvInstead(why)
        pytest.skip(f"{why}: the venv tests of this module validate the Dockerfile instead")
    started = time.monotonic()
    build = subprocess.run(
        [binary, "build", "-f", str(DOCKERFILE), "-t", TAG, str(REPO)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    seconds = time.monotonic() - started
    warnings.warn(f"built {TAG} with {why} in {seconds:.0f} s", UserWarning, stacklevel=1)

    refused = subprocess.run(
        [binary, "run", "--rm", TAG], capture_output=True, text=True, timeout=120
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assertOneRefusal(refused.stderr)

    etc = tmp_path / "etc"
    etc.mkdir(mode=0o755)
    shutil.copy(REPO / "deploy" / "config.json", etc / "config.json")
    writeTokens(etc)
    for f in etc.iterdir():
        f.chmod(0o644)
    name = f"mcpgateway-test-{os.getpid()}"
    subprocess.run(
        [
            *(binary, "run", "-d", "--name", name, "--read-only", "--tmpfs", "/tmp"),
            *("--health-interval=1s", "-v", f"{etc}:/etc/mcpgateway:ro", TAG),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:

        def health() -> str:
            state = subprocess.run(
                [binary, "inspect", "-f", "{{.State.Health.Status}}", name],
                capture_output=True,
                text=True,
                timeout=30,
            )
            return state.stdout.strip()

        assert waitFor(lambda: health() == "healthy", timeout=120, interval=1), health()
    finally:
        logs = subprocess.run([binary, "logs", name], capture_output=True, text=True, timeout=60)
        subprocess.run([binary, "rm", "-f", name], capture_output=True, timeout=60)
    assert "Traceback" not in logs.stdout + logs.stderr


# -- without a runtime: the Dockerfile's commands in a venv --------------------------


@dataclass
class VenvImage:
    """The image's paths mapped into a temporary directory, with the venv built
    by the Dockerfile's own commands."""

    root: Path
    stages: list[Stage]
    mapping: dict[str, str]
    venv: Path
    wheels: Path
    env: dict[str, str]
    skipped: list[str]
    seconds: float

    def mapped(self, text: str) -> str:
        for image, here in sorted(self.mapping.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(image, here)
        return text

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def command(self, argv: list[str]) -> list[str]:
        """An exec-form argv of the image, as it runs here."""
        mapped = [self.mapped(a) for a in argv]
        if mapped[0] == "twist":  # the venv has no console scripts of Twisted's own
            return [self.python, "-m", "twisted", *mapped[1:]]
        if mapped[0] == "python":  # the image's PATH finds the venv's first
            return [self.python, *mapped[1:]]
        return mapped

    def start(self, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(argv),
            cwd=self.mapping["/var/lib/mcpgateway"],
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(argv),
            cwd=self.mapping["/var/lib/mcpgateway"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _sh(command: str, cwd: Path, env: dict[str, str]) -> None:
    proc = subprocess.run(
        ["sh", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"{command}\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"


@pytest.fixture(scope="module")
def image(
    stages: list[Stage], runtime: tuple[str | None, str], tmp_path_factory: pytest.TempPathFactory
) -> VenvImage:
    binary, why = runtime
    if binary is None:
        venvInstead(why)
    started = time.monotonic()
    root = tmp_path_factory.mktemp("image")
    mapping = {
        "/src": str(root / "src"),
        "/wheels": str(root / "wheels"),
        "/opt/mcpgateway": str(root / "opt"),
        "/var/lib/mcpgateway": str(root / "state"),
        "/etc/mcpgateway": str(root / "etc"),
    }
    skipped: list[str] = []
    build, runtime_ = stages
    patterns = ignorePatterns()
    hostEnv = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    dev = Path(sys.executable)

    def copy(stage: Stage, workdir: Path) -> None:
        for instruction in stage.all("COPY"):
            *sources, dest = instruction.text.split()
            target = Path(mapped(dest, mapping)) if dest.startswith("/") else workdir / dest
            for source in sources:
                src = REPO / source
                if src.is_dir():
                    for f in src.rglob("*"):
                        rel = str(f.relative_to(REPO))
                        if f.is_file() and contextIncludes(rel, patterns):
                            out = target / f.relative_to(src)
                            out.parent.mkdir(parents=True, exist_ok=True)
                            shutil.copy(f, out)
                else:
                    assert contextIncludes(source, patterns), source
                    out = target / src.name if dest.endswith("/") else target
                    out.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(src, out)

    # build stage: COPY, then `pip wheel` of the project (its dependencies'
    # wheels come from the index in a real build: here the dev venv has them).
    src = Path(mapping[build.one("WORKDIR").text])
    src.mkdir(parents=True)
    copy(build, src)
    (wheel,) = runSteps(build)
    words = shlex.split(wheel[0])
    assert words[:2] == ["pip", "wheel"]
    project = [w for w in words[2:] if w.startswith(".")]
    skipped += [f"pip wheel {w} (needs the index)" for w in words[2:] if w[0] not in "-./"]
    argv = [str(dev), "-m", "pip", "wheel", "--no-deps", "-q"]
    argv += [mapped(w, mapping) for w in words[2:] if w.startswith(("-", "/"))] + project
    _sh(shlex.join(argv), src, hostEnv)

    # runtime stage: the venv (seeing the dev venv's packages through a .pth,
    # as --system-site-packages would see an image's), the wheels, bytecode,
    # the plugin cache, `twist --help`.
    etc = Path(mapping["/etc/mcpgateway"])
    etc.mkdir()
    Path(mapping["/var/lib/mcpgateway"]).mkdir(mode=0o700)
    copy(runtime_, Path("/nonexistent"))
    venv = Path(mapping["/opt/mcpgateway"])
    apt, install, _user = runSteps(runtime_)
    skipped.append(apt[1])
    assert install[0] == "python -m venv /opt/mcpgateway"
    _sh(f"{shlex.quote(str(dev))} -m venv --without-pip {venv}", root, hostEnv)
    purelib = sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"]
    view = devPackagesWithoutMcpgateway(root / "dev-site-packages")
    (Path(purelib) / "_dev_venv.pth").write_text(f"{view}\n")
    wheels = Path(mapping["/wheels"])
    built = {w.name.split("-")[0].lower() for w in wheels.glob("*.whl")}
    for step in install[1:]:
        words = shlex.split(step)
        if words[:2] == ["/opt/mcpgateway/bin/pip", "install"]:
            wanted = [w for w in words[2:] if not w.startswith("-")]
            have = [w for w in wanted if re.split(r"[\[=<>]", w)[0].lower() in built]
            skipped += [f"pip install {w} (needs the index)" for w in wanted if w not in have]
            options = [mapped(w, mapping) for w in words[2:] if w.startswith("-")]
            step = shlex.join(
                [
                    *(str(venv / "bin" / "python"), "-m", "pip", "install", "-q"),
                    *("--no-deps", "--ignore-installed", *options, *have),
                ]
            )
        else:
            step = mapped(step, mapping).replace(
                f"{venv}/bin/twist", f"{venv}/bin/python -m twisted"
            )
        _sh(step, root, hostEnv)

    env = envOf(runtime_, hostEnv)
    env = {**hostEnv, **{k: mapped(v, mapping) for k, v in env.items()}}
    seconds = time.monotonic() - started
    return VenvImage(root, stages, mapping, venv, wheels, env, skipped, seconds)


def devPackagesWithoutMcpgateway(view: Path) -> Path:
    """The dev venv's site-packages as symlinks, less any mcpgateway installed
    there (its package, metadata and Twisted plugin): the venv then holds the
    only mcpgateway, as the image does, and the plugin-cache step writes the
    venv's own dropin.cache."""
    site = Path(sysconfig.get_paths()["purelib"])
    view.mkdir()
    for entry in site.iterdir():
        name = entry.name.lower()
        if name == "mcpgateway" or (name.startswith("mcpgateway-") and ".dist-info" in name):
            continue
        if name != "twisted":
            (view / entry.name).symlink_to(entry)
            continue
        (view / "twisted").mkdir()
        for inner in entry.iterdir():
            if inner.name != "plugins":
                (view / "twisted" / inner.name).symlink_to(inner)
        (view / "twisted" / "plugins").mkdir()
        for plugin in (entry / "plugins").iterdir():
            if plugin.name not in ("mcpgateway_plugin.py", "dropin.cache", "__pycache__"):
                (view / "twisted" / "plugins" / plugin.name).symlink_to(plugin)
    return view


def mapped(text: str, mapping: dict[str, str]) -> str:
    for image, here in sorted(mapping.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(image, here)
    return text


def test_the_venv_runs_the_wheel_with_its_plugin_cache(image: VenvImage) -> None:
    wheels = sorted(w.name for w in image.wheels.glob("*.whl"))
    assert len(wheels) == 1 and wheels[0].startswith("mcpgateway-"), wheels
    probe = image.run(
        [
            "/opt/mcpgateway/bin/python",
            "-c",
            "import json, mcpgateway, twisted.plugins.mcpgateway_plugin as p;"
            "tap = __import__(p.mcpgateway.module, fromlist=['x']);"
            "from importlib import metadata;"
            "d = metadata.distribution('mcpgateway');"
            "extras = d.metadata.get_all('Provides-Extra');"
            "print(json.dumps([mcpgateway.__file__, tap.__file__, extras]))",
        ]
    )
    assert probe.returncode == 0, probe.stderr
    package, tap, extras = json.loads(probe.stdout)
    assert package.startswith(str(image.venv)), package  # the wheel's, not the checkout's
    assert tap.startswith(str(image.venv)), tap  # what the plugin's ServiceMaker loads
    plugins = {p.name for p in image.venv.rglob("site-packages/twisted/plugins/*")}
    assert {"dropin.cache", "mcpgateway_plugin.py"} <= plugins, plugins
    assert "tls" in extras, extras
    assert list(image.venv.rglob("mcpgateway/__pycache__/tap.*.pyc"))
    helped = image.run(["twist", "--help"])
    assert "mcpgateway" in helped.stdout
    warnings.warn(
        f"venv built from the Dockerfile in {image.seconds:.1f} s; not run here: "
        + "; ".join(image.skipped),
        UserWarning,
        stacklevel=1,
    )


def test_the_wheel_offers_the_team_extra_the_image_installs(image: VenvImage) -> None:
    """C{pip install "mcpgateway[team]"} brings PyJWT and treq (OAuth) only
    when the wheel declares the extra; else pip just warns, and the image
    could not verify a JWT."""
    (wheel,) = image.wheels.glob("mcpgateway-*.whl")
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    assert "Provides-Extra: team" in metadata.splitlines()
    requires = [ln for ln in metadata.splitlines() if 'extra == "team"' in ln]
    assert any(ln.startswith("Requires-Dist: pyjwt[crypto]") for ln in requires), requires
    assert any(ln.startswith("Requires-Dist: treq") for ln in requires), requires


def assertOneRefusal(stderr: str) -> None:
    lines = [ln for ln in stderr.splitlines() if ln.strip() and "--help` lists" not in ln]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("mcpgateway: "), stderr
    assert "tokens.json" in lines[0] or "authentication" in lines[0], stderr


def test_the_command_refuses_off_loopback_without_a_tokens_file(image: VenvImage) -> None:
    """The image's CMD and ENV with no tokens file mounted: exit 1, one line."""
    cmd = image.stages[-1].one("CMD").exec()
    argv = [a.replace("tcp:9100:", "tcp:0:") for a in cmd]
    assert not (Path(image.mapping["/etc/mcpgateway"]) / "tokens.json").exists()
    process = image.start(argv)
    state = Path(image.mapping["/var/lib/mcpgateway"]) / "state.json"
    waitFor(lambda: process.poll() is not None or state.exists(), timeout=30)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
        pytest.fail(f"the gateway started on 0.0.0.0 with no authentication:\n{out[-2000:]}")
    out, err = process.communicate(timeout=30)
    assert process.returncode == 1, out + err
    assertOneRefusal(err)
    assert "listening on" not in out


def _echo(port: int, token: str) -> str:
    session = Session(
        f"http://127.0.0.1:{port}/demo/mcp", headers=bearer(token), name="container-test"
    )
    session.open()
    result = session.call("echo", {"message": "from the image"})
    return str(result["content"][0]["text"])


@pytest.fixture
def tokens(image: VenvImage) -> Iterator[str]:
    """A token made by the image's own C{mcpgateway token new}, its hash in
    the file the image's ENV names."""
    made = image.run(["/opt/mcpgateway/bin/mcpgateway", "token", "new", "ci"])
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert re.fullmatch(r"mcpgw_[A-Za-z0-9_-]{43}", token), made.stdout
    path = Path(image.env["MCPGATEWAY_AUTH_TOKENS"])
    assert path == Path(image.mapping["/etc/mcpgateway"]) / "tokens.json"
    assert token not in path.read_text()
    yield token
    path.unlink()


def test_the_command_serves_on_loopback_and_the_healthcheck_follows_it(
    image: VenvImage, tokens: str
) -> None:
    """The image's CMD on 127.0.0.1 with a tokens file: it serves the image's
    config; the HEALTHCHECK command exits 0 while it runs, 1 once it stopped."""
    runtime = image.stages[-1]
    health = json.loads(runtime.one("HEALTHCHECK").text.partition(" CMD ")[2])
    before = image.run(health)
    assert before.returncode == 1
    assert before.stderr.count("\n") == 1 and "state.json" in before.stderr, before.stderr

    cmd = runtime.one("CMD").exec()
    argv = [a.replace("tcp:9100:interface=0.0.0.0", "tcp:0:interface=127.0.0.1") for a in cmd]
    process = image.start(argv)
    state = Path(image.mapping["/var/lib/mcpgateway"]) / "state.json"
    try:
        assert waitFor(state.exists, timeout=30), process.stderr
        started = time.monotonic()
        healthy = image.run(health)
        took = time.monotonic() - started
        assert healthy.returncode == 0, healthy.stderr
        assert healthy.stderr.startswith("mcpgateway healthcheck: healthy: http://127.0.0.1:")
        assert took < 2.0 + 3.0
        port = json.loads(state.read_text())["port"]
        assert _echo(port, tokens) == "from the image"
        with pytest.raises(RpcError) as refused:  # the ENV's tokens file rules
            _echo(port, "mcpgw_" + "A" * 43)
        assert refused.value.reply.status == 401
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    # twist stops cleanly, then ends by the signal it got (tini exits 143)
    assert process.returncode == -signal.SIGTERM, err
    last = json.loads(out.splitlines()[-1])  # twist logs JSON when stdout is no terminal
    assert last["log_format"] == "Main loop terminated.", out[-2000:]
    after = image.run(health)
    assert after.returncode == 1, after.stderr
    assert after.stderr.startswith("mcpgateway healthcheck: unhealthy: ")


def test_the_healthcheck_speaks_https_to_a_tls_port(image: VenvImage, tokens: str) -> None:
    """A self-signed certificate on loopback: healthy over https."""
    pytest.importorskip("OpenSSL", reason="TLS endpoints need the tls extra (pyOpenSSL)")
    keyFile, certFile = selfSigned(image.root, private=False)
    runtime = image.stages[-1]
    health = json.loads(runtime.one("HEALTHCHECK").text.partition(" CMD ")[2])
    port = f"ssl:0:privateKey={keyFile}:certKey={certFile}:interface=127.0.0.1"
    argv = ["twist", "mcpgateway", "--port", port, "--config", "/etc/mcpgateway/config.json"]
    process = image.start(argv)
    state = Path(image.mapping["/var/lib/mcpgateway"]) / "state.json"
    try:
        assert waitFor(state.exists, timeout=30), process.stderr
        healthy = image.run(health)
        assert healthy.returncode == 0, healthy.stderr
        assert healthy.stderr.startswith("mcpgateway healthcheck: healthy: https://127.0.0.1:")
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
