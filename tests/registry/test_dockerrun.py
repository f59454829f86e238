"""A C{docker run} command line read as Docker reads it: every form of the
options a registry entry may give, those refused (by name), the host paths
that need the person's approval, and any argument list read without a crash."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mcpgateway.registry.dockerrun import (
    NEVER_MOUNTED,
    OPTIONS,
    DockerRefused,
    DockerRun,
    HostMount,
    csvRecord,
    hostPath,
    readDockerRun,
    unapproved,
)

IMAGE = "ghcr.io/acme/x:1"


def read(*options: str, passable: tuple[str, ...] = ("API_KEY",)) -> DockerRun:
    return readDockerRun(["run", *options, IMAGE, "serve"], passable)


HOST_PATHS = [
    # (options, the host paths the container would get)
    (["-v", "/etc/cron.d:/c"], ["/etc/cron.d"]),
    (["-v/usr/bin:/b"], ["/usr/bin"]),
    (["-v=/root/.ssh:/s:ro"], ["/root/.ssh"]),
    (["--volume", "/home/alice/.ssh:/s"], ["/home/alice/.ssh"]),
    (["--volume=/var/lib/docker:/d"], ["/var/lib/docker"]),
    (["-iv", "/srv:/srv"], ["/srv"]),
    (["-i", "--rm", "-v", "/srv/./x//y/:/d:rw,nocopy"], ["/srv/x/y"]),
    (["--mount", "type=bind,src=/etc,dst=/e"], ["/etc"]),
    (["--mount=type=BIND,source=/etc,target=/e,readonly"], ["/etc"]),
    (["--mount", 'type=bind,"source=/home/a",target=/h'], ["/home/a"]),
    (["--mount", '"type=bind","src=/home/a,b",dst=/h'], ["/home/a,b"]),
    (["--mount", 'type=bind,src="/home/a",dst=/h'], None),  # a bare quote: refused
    (["--mount", "type=volume,dst=/d,volume-opt=o=bind,volume-opt=device=/usr"], ["/usr"]),
    (["--mount", 'type=volume,dst=/d,"volume-opt=o=bind,ro",volume-opt=device=/srv/x'], ["/srv/x"]),
    (["-v", "/a:/a", "--mount", "type=bind,src=/b,dst=/b"], ["/a", "/b"]),
]


@pytest.mark.parametrize(("options", "paths"), HOST_PATHS)
def test_every_form_of_a_host_path_is_found(options: list[str], paths: list[str] | None) -> None:
    if paths is None:
        with pytest.raises(DockerRefused, match="bare"):
            read(*options)
        return
    run = read(*options)
    assert [m.path for m in run.mounts] == paths
    assert (run.image, run.arguments) == (IMAGE, ("serve",))
    assert [m.path for m in unapproved(run, [])] == paths
    assert unapproved(run, [p + "/" for p in paths]) == []
    assert [m.path for m in unapproved(run, [p + "/sub" for p in paths])] == paths


def test_a_mount_says_where_and_how() -> None:
    [ro] = read("-v", "/srv/data:/data:ro").mounts
    assert ro == HostMount("/srv/data", "/data", True, "-v")
    assert ro.describe() == "/srv/data (read-only, at /data in the container)"
    [rw] = read("--mount", "type=bind,source=/srv/data,target=/data,readonly=false").mounts
    assert rw == HostMount("/srv/data", "/data", False, "--mount")


REFUSED = [
    # host paths refused even when approved
    (["-v", "../../..:/h"], "-v: the host path '../../..' is relative"),
    (["-v", "./data:/d"], "is relative"),
    (["-v", "~/x:/h"], "is relative"),
    (["-v", "/:/h"], "-v mounts the host's root directory"),
    (["-v", "//:/h"], "root directory"),
    (["--volume=/.:/h"], "root directory"),
    (["-v", "/var/run/docker.sock:/s"], "/var/run/docker.sock (its kernel or daemon sockets)"),
    (["-v", "/run/user/1000/docker.sock:/s"], "/run/user/1000/docker.sock"),
    (["-v", "/home/a/.docker/run/docker.sock:/s"], "the socket /home/a/.docker/run/docker.sock"),
    (["-v", "/proc:/p"], "/proc"),
    (["-v", "/home/a/../../etc:/e"], "has '..'"),
    (["-v", "/srv:/srv:Z"], "relabels the host's /srv"),
    (["-v", "/srv:/srv:shared"], "mode 'shared' is not accepted"),
    (["-v", "a:b:c:d"], "not SOURCE:TARGET"),
    (["-v", "/srv:ro"], "needs a source"),
    (["-v", "data:relative"], "not an absolute path in the container"),
    (["--mount", "type=bind,source=/,target=/h"], "root directory"),
    (["--mount", "type=bind,source=./x,target=/h"], "relative"),
    (["--mount", "type=bind,src=/srv,src=/,dst=/h"], "source is given twice"),
    (["--mount", "type=volume,src=v,dst=/h,type=bind"], "type is given twice"),
    (["--mount", "type=volume,src=/etc,dst=/h"], "is not a volume's name"),
    (["--mount", "type=volume,dst=/h,volume-driver=local"], "key 'volume-driver'"),
    (["--mount", "type=image,source=x,target=/h"], "type 'image' is not accepted"),
    (["--mount", "type=bind,source=/srv,target=/h,bind-propagation=rshared"], "rshared"),
    (["--mount", 'type=bind,so"urce=/srv,target=/h'], 'bare "'),
    (["--mount", '"type=bind"x,source=/srv,target=/h'], 'extraneous or missing "'),
    (["--mount", '"type=bind,source=/srv,target=/h'], 'extraneous or missing "'),
    (["--mount", "type=volume,dst=/d,volume-opt=device=nfs:/x"], "device: the host path"),
    (["--mount", "type=volume,dst=/d,volume-opt=o=bind"], "is relative"),
    (["--mount", "type=volume,dst=/d,volume-opt=o=bind,volume-opt=device=/"], "root"),
    (["--mount", "type=volume,dst=/d,volume-opt=mountpoint=/x"], "volume-opt 'mountpoint'"),
    (["--mount", "type=bind,src=/srv,target"], "must be a key=value pair"),
    (["--mount", "type=bind,src=/srv"], "not an absolute path in the container"),
    (["--mount", ""], "key ''"),
    (["--mount", "type=bind,src=/srv,dst=/d\n"], "U+000A"),
    (["--volumes-from", "db"], "--volumes-from gives the container another container's mounts"),
    # the host's privileges and namespaces
    (["--privileged"], "--privileged gives the container the host's devices"),
    (["--privileged=false"], "--privileged gives"),
    (["--cap-add", "SYS_ADMIN"], "--cap-add gives the container capabilities"),
    (["--cap-add=ALL"], "--cap-add"),
    (["--device", "/dev/sda"], "--device gives the container the host's devices"),
    (["--gpus", "all"], "--gpus"),
    (["--network", "host"], "--network=host shares the host's network"),
    (["--network=host"], "shares the host's network"),
    (["--net=host"], "--net=host shares the host's network"),
    (["--network", "HOST"], "shares the host's network"),
    (["--network", "container:db"], "shares another container's network"),
    (["--network", "name=x,alias=y"], "--network='name=x,alias=y'"),
    (["--pid", "host"], "--pid=host shares the host's process namespace"),
    (["--pid=container:x"], "shares another container's process namespace"),
    (["--ipc", "host"], "--ipc=host shares the host's IPC namespace"),
    (["--uts", "host"], "--uts=host shares the host's UTS namespace"),
    (["--userns", "host"], "--userns=host shares the host's user namespace"),
    (["--userns=host"], "shares the host's user namespace"),
    (["--cgroupns", "host"], "--cgroupns=host shares the host's cgroup namespace"),
    (["--security-opt", "seccomp=unconfined"], "lifts the container's confinement"),
    (["--security-opt", "apparmor=unconfined"], "lifts the container's confinement"),
    (["--security-opt", "label=disable"], "lifts the container's confinement"),
    (["--security-opt", "label:disable"], "lifts the container's confinement"),
    (["--security-opt", "systempaths=unconfined"], "lifts the container's confinement"),
    (["--security-opt", "seccomp=/tmp/profile.json"], "only no-new-privileges is accepted"),
    (["--security-opt", "label=type:spc_t"], "only no-new-privileges"),
    # variables
    (["-e", "LD_PRELOAD=/x.so"], "-e LD_PRELOAD: the variable steers a loader"),
    (["--env", "LD_LIBRARY_PATH=/x"], "--env LD_LIBRARY_PATH"),
    (["-e=LD_AUDIT=x"], "-e LD_AUDIT"),
    (["-eDYLD_INSERT_LIBRARIES=x"], "-e DYLD_INSERT_LIBRARIES"),
    (["--env=NODE_OPTIONS=-r x"], "--env NODE_OPTIONS"),
    (["-e", "PYTHONPATH=/x"], "-e PYTHONPATH"),
    (["-e", "ld_preload=/x.so"], "-e ld_preload"),
    (["-e", "MCPGATEWAY_API_TOKEN"], "-e MCPGATEWAY_API_TOKEN"),
    (["-e", "AWS_SECRET_ACCESS_KEY"], "would pass the gateway's own AWS_SECRET_ACCESS_KEY"),
    (["-e", "A-B=1"], "not an environment variable name"),
    (["--env-file", "/home/a/.env"], "--env-file passes variables"),
    # what breaks a child, publishes ports, or is not known
    (["-it"], "-t gives the container a terminal"),
    (["-t"], "-t gives the container a terminal"),
    (["-d"], "-d detaches"),
    (["--detach"], "--detach detaches"),
    (["--name", "x"], "--name names the container"),
    (["-p", "80:80"], "-p opens ports"),
    (["-P"], "-P opens ports"),
    (["--use-api-socket"], "--use-api-socket gives the container Docker's API"),
    (["--foo"], "docker option --foo is not one the gateway knows"),
    (["--foo=bar"], "--foo is not one"),
    (["-x"], "docker option -x is not one the gateway knows"),
    (["-iX"], "-X is not one the gateway knows"),
    (["--add-host", "h:1.2.3.4"], "--add-host is not one"),
    (["--runtime", "runc"], "--runtime is not one"),
    (["---x"], "bad flag syntax"),
    (["--=x"], "bad flag syntax"),
    (["--rm=yes"], "--rm='yes': not true or false"),
    (["-i=x"], "-i='x': not true or false"),
    (["--user", "0:0;id"], "not a user name or id"),
    (["--workdir", "w"], "not an absolute path"),
    (["--pull", "sometimes"], "one of missing, always, never"),
]


@pytest.mark.parametrize(("options", "message"), REFUSED)
def test_options_refused_name_themselves(options: list[str], message: str) -> None:
    with pytest.raises(DockerRefused) as caught:
        read(*options)
    assert message in str(caught.value)


def test_a_sound_command_line_is_read_whole() -> None:
    run = read(
        "-i",
        "--rm",
        "--init",
        "--read-only",
        "-e",
        "API_KEY",
        "-e",
        "MODE=ro",
        "--network",
        "none",
        "--user=1000:1000",
        "-w",
        "/work",
        "--tmpfs",
        "/tmp:size=64m",
        "--mount",
        "type=volume,src=data,dst=/data,volume-nocopy",
        "-v",
        "cache:/cache:ro",
        "-v",
        "/anonymous",
        "--mount",
        "type=tmpfs,dst=/t,tmpfs-size=1m",
        "--security-opt",
        "no-new-privileges",
        "--cap-drop",
        "ALL",
        "--pids-limit",
        "100",
        "-m512m",
        "--ipc=private",
        "--network",
        "mcp-net",
        "-qi",
    )
    assert run.mounts == ()
    assert ("env", "API_KEY") in run.options and ("memory", "512m") in run.options
    assert run.options[-2:] == (("quiet", "true"), ("interactive", "true"))


def test_values_are_taken_as_docker_takes_them() -> None:
    """A value is the next item whatever it looks like, so what follows an
    option decides what the image is."""
    run = readDockerRun(["run", "--entrypoint", "-v", "/etc:/e", IMAGE])
    assert (run.options, run.image, run.arguments) == ((("entrypoint", "-v"),), "/etc:/e", (IMAGE,))
    run = readDockerRun(["run", "--label", "--privileged", IMAGE])
    assert run.options == (("label", "--privileged"),) and run.image == IMAGE
    run = readDockerRun(["run", "-i", "--", "-v", "/etc:/e"])
    assert (run.image, run.arguments, run.mounts) == ("-v", ("/etc:/e",), ())
    run = readDockerRun(["run", "-", "--privileged"])
    assert (run.image, run.arguments) == ("-", ("--privileged",))
    for argv in (["run", "-i"], ["run", "-e"], ["run", "--mount"], ["pull", IMAGE], []):
        with pytest.raises(DockerRefused):
            readDockerRun(argv)


@pytest.mark.parametrize(
    ("value", "fields"),
    [
        ("a,b", ["a", "b"]),
        ('"a,b",c', ["a,b", "c"]),
        ('"a""b"', ['a"b']),
        ('"",x', ["", "x"]),
        ("a,", ["a", ""]),
        ("", [""]),
    ],
)
def test_csv_records_as_go_reads_them(value: str, fields: list[str]) -> None:
    assert csvRecord(value) == fields


@pytest.mark.parametrize("path", ["/", "//", "/.", *NEVER_MOUNTED, "/run/x", "/a/b.sock", "x", ""])
def test_paths_never_mounted(path: str) -> None:
    with pytest.raises(DockerRefused):
        hostPath(path, "-v")


TOKENS = [
    *[f"--{name}" for name in OPTIONS],
    *[f"-{option.short}" for option in OPTIONS.values() if option.short],
    "-it",
    "-iv",
    "-e=A=1",
    "--",
    "-",
    "---x",
    "--rm=false",
    "--network=host",
    "/etc:/e",
    "data:/data",
    "/srv/x:/x:ro",
    "../..:/h",
    "type=bind,src=/srv,dst=/s",
    'type=bind,"src=/srv",dst=/s',
    "type=volume,dst=/d,volume-opt=device=/srv",
    "type=volume,src=data,dst=/d",
    "type=tmpfs,dst=/t",
    '"type=bind',
    "A=1",
    "API_KEY",
    "LD_PRELOAD=/x",
    "host",
    "none",
    "no-new-privileges",
    "seccomp=unconfined",
    "1000",
    "/work",
    IMAGE,
]
ARGUMENTS = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=12)), max_size=12)


@settings(max_examples=500, deadline=None)
@given(argv=ARGUMENTS)
@example(argv=["-v", "/etc:/e", "/etc:/e"])
def test_any_argument_list_is_refused_or_read_soundly(argv: list[str]) -> None:
    try:
        run = readDockerRun(["run", *argv], passable=("API_KEY",))
    except DockerRefused as e:
        assert str(e)
        return
    for name, value in run.options:
        option = OPTIONS[name]
        assert option.refused is None
        if name in ("network", "net", "pid", "ipc", "uts", "userns", "cgroupns"):
            assert value.lower() != "host" and not value.lower().startswith("container:")
        if name == "env":
            key = value.partition("=")[0]
            assert key.upper() not in ("LD_PRELOAD", "LD_LIBRARY_PATH", "PYTHONPATH")
    for mount in run.mounts:
        assert mount.path == hostPath(mount.path, "-v") and mount.path.startswith("/")
    # what was read reads the same once written in long form (a mount names
    # the option as it was spelled: -v becomes --volume)
    written = [f"--{name}={value}" for name, value in run.options]
    again = readDockerRun(["run", *written, "--", run.image, *run.arguments], ("API_KEY",))
    assert again.options == run.options
    assert [(m.path, m.target, m.readOnly) for m in again.mounts] == [
        (m.path, m.target, m.readOnly) for m in run.mounts
    ]
    assert (again.image, again.arguments) == (run.image, run.arguments)
