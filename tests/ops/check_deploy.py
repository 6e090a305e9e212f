#!/usr/bin/env python3
"""Offline checks of deploy/ (issue 7), one CTest test per check (tests/ops/CMakeLists.txt):

  promtool-config    promtool check config deploy/prometheus/prometheus.yml
  promtool-rules     promtool check rules deploy/prometheus/rules/*.yml
  promtool-test      promtool test rules deploy/prometheus/tests/*.test.yml
  rules-lint         every alert has severity, team, summary, description and `for`, and a unit
                     test that expects it firing and one that expects it silent
  alertmanager       amtool check-config and the routing table (amtool config routes test)
  systemd            systemd-analyze verify of deploy/systemd/vrpd.service (ExecStart pointed at
                     the built vrpd), its sandboxing options and its exposure score
  compose            deploy/compose.yaml: YAML, structure, files it mounts, docker-compose config
  k8s                deploy/k8s/*.yaml: YAML, structure, probes, the ConfigMap through
                     `vrpd --check-config`, prometheusrule.yaml equal to the rules file
  docker             Dockerfile: stages, non-root user, health check; its runtime packages hold
                     every shared library of the built binaries; deploy/docker/healthcheck.sh
                     against a local HTTP server
  yamllint           yamllint on every YAML file of deploy/ (syntax, duplicate keys, indentation)

No Kubernetes schema check: neither kubeconform nor kubeval is packaged in Debian 12, so the
manifests get a structural check here instead. A check whose tool is missing (a Debian package not
installed) exits 77, which CTest reports as skipped; a check that runs and finds a problem exits 1.

Environment: VRP_SOURCE_DIR (the repository), VRPD, VRPCTL, VRP_REPLAYD (built binaries).
"""

import glob
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

import yaml

SOURCE = os.path.abspath(os.environ.get(
    "VRP_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
DEPLOY = os.path.join(SOURCE, "deploy")
PROM = os.path.join(DEPLOY, "prometheus")
RULES = os.path.join(PROM, "rules", "vrp.rules.yml")
SKIP = 77


class Skip(Exception):
    pass


def tool(name, package):
    path = shutil.which(name)
    if path is None:
        raise Skip(f"{name} is not installed (Debian package {package})")
    return path


def run(args, **kwargs):
    p = subprocess.run(args, capture_output=True, text=True, **kwargs)
    return p.returncode, p.stdout + p.stderr


def check_ok(args, **kwargs):
    rc, out = run(args, **kwargs)
    print(out, end="")
    assert rc == 0, f"{' '.join(args)} exited {rc}"
    return out


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def alerts():
    return [r for g in load_yaml(RULES)["groups"] for r in g["rules"] if "alert" in r]


# --- Prometheus ---------------------------------------------------------------------------------

def promtool_config():
    check_ok([tool("promtool", "prometheus"), "check", "config",
              os.path.join(PROM, "prometheus.yml")])


def promtool_rules():
    files = sorted(glob.glob(os.path.join(PROM, "rules", "*.yml")))
    assert files, "no rules files"
    check_ok([tool("promtool", "prometheus"), "check", "rules", *files])


def promtool_test():
    files = sorted(glob.glob(os.path.join(PROM, "tests", "*.test.yml")))
    assert files, "no rule unit tests"
    # Relative rule_files in the tests resolve from the test file's directory.
    check_ok([tool("promtool", "prometheus"), "test", "rules", *files],
             cwd=os.path.join(PROM, "tests"))


def rules_lint():
    problems = []
    names = [a["alert"] for a in alerts()]
    assert len(names) == len(set(names)), f"duplicate alert names: {names}"
    for a in alerts():
        name, labels, notes = a["alert"], a.get("labels", {}), a.get("annotations", {})
        if labels.get("severity") not in ("critical", "warning", "info"):
            problems.append(f"{name}: severity must be critical, warning or info")
        if labels.get("team") not in ("quant", "ops"):
            problems.append(f"{name}: team must be quant or ops")
        for key in ("summary", "description"):
            if not notes.get(key):
                problems.append(f"{name}: no {key} annotation")
        if not re.fullmatch(r"\d+[smh]", str(a.get("for", ""))):
            problems.append(f"{name}: no `for` duration")
    firing, silent = set(), set()
    for path in glob.glob(os.path.join(PROM, "tests", "*.test.yml")):
        for test in load_yaml(path)["tests"]:
            for t in test.get("alert_rule_test", []):
                (firing if t.get("exp_alerts") else silent).add(t["alertname"])
    for name in names:
        if name not in firing:
            problems.append(f"{name}: no unit test expects it firing")
        if name not in silent:
            problems.append(f"{name}: no unit test expects it silent")
    unknown = (firing | silent) - set(names)
    if unknown:
        problems.append(f"tests name alerts that do not exist: {sorted(unknown)}")
    assert not problems, "\n".join(problems)
    print(f"{len(names)} alerts: labels, annotations, `for` and firing/silent unit tests present")


# --- Alertmanager -------------------------------------------------------------------------------

ROUTES = [  # labels of an alert -> the receiver the real routing tree must pick
    ({"alertname": "VrpPremiumSpike", "team": "quant", "severity": "critical"}, "quant-page"),
    ({"alertname": "VrpPremiumNegative", "team": "quant", "severity": "warning"}, "quant-desk"),
    ({"alertname": "VrpFeedDown", "team": "ops", "severity": "critical"}, "ops-page"),
    ({"alertname": "VrpRingDrops", "team": "ops", "severity": "warning"}, "ops-tickets"),
    ({"alertname": "Other", "severity": "info"}, "ops-chat"),
    ({"alertname": "Unlabelled"}, "ops-tickets"),
]


def alertmanager():
    amtool = tool("amtool", "prometheus-alertmanager")
    cfg = os.path.join(DEPLOY, "alertmanager", "alertmanager.yml")
    check_ok([amtool, "check-config", cfg])
    for labels, receiver in ROUTES:
        args = [f"{k}={v}" for k, v in labels.items()]
        out = check_ok([amtool, "config", "routes", "test", f"--config.file={cfg}",
                        f"--verify.receivers={receiver}", *args])
        assert out.strip().splitlines()[0] == receiver, (labels, out)
    # Every alert of the rules reaches a receiver other than the catch-all only by its labels.
    for a in alerts():
        labels = {"alertname": a["alert"], **a["labels"]}
        want = {("quant", "critical"): "quant-page", ("quant", "warning"): "quant-desk",
                ("ops", "critical"): "ops-page", ("ops", "warning"): "ops-tickets"}[
                    (labels["team"], labels["severity"])]
        out = check_ok([amtool, "config", "routes", "test", f"--config.file={cfg}",
                        *[f"{k}={v}" for k, v in labels.items()]])
        assert out.strip().splitlines()[0] == want, (a["alert"], out)


# --- systemd ------------------------------------------------------------------------------------

SANDBOX = {  # option -> value the unit must set
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
    "PrivateDevices": "yes", "DynamicUser": "yes", "StateDirectory": "vrp",
    "CapabilityBoundingSet": "", "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native",
}


def parse_unit(path):
    sections, current = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                current = sections.setdefault(line.strip("[]"), {})
                continue
            key, _, value = line.partition("=")
            current.setdefault(key, []).append(value)
    return sections


def systemd():
    analyze = tool("systemd-analyze", "systemd")
    vrpd = os.environ.get("VRPD")
    assert vrpd and os.access(vrpd, os.X_OK), "VRPD must name the built vrpd"
    unit = os.path.join(DEPLOY, "systemd", "vrpd.service")
    s = parse_unit(unit)
    service = s["Service"]
    for key, value in SANDBOX.items():
        got = service.get(key, [None])[-1]
        assert got == value, f"{key}={value} missing (got {got!r})"
    exec_start = service["ExecStart"][0].split()
    assert exec_start[0] == "/usr/local/bin/vrpd" and "--config" in exec_start, exec_start
    assert s["Install"]["WantedBy"] == ["multi-user.target"]
    with tempfile.TemporaryDirectory() as tmp:
        # verify checks that ExecStart exists: point it at the built binary, the rest unchanged.
        copy = os.path.join(tmp, "vrpd.service")
        with open(unit) as f, open(copy, "w") as g:
            g.write(f.read().replace("/usr/local/bin/vrpd", os.path.abspath(vrpd)))
        rc, out = run([analyze, "verify", copy])
        print(out, end="")
        assert rc == 0 and out.strip() == "", f"systemd-analyze verify: rc {rc}\n{out}"
        rc, out = run([analyze, "security", "--offline=yes", copy])
        m = re.search(r"Overall exposure level for vrpd\.service: (\d+\.\d+) (\w+)", out)
        if m is None and "offline" in out:
            raise Skip("systemd-analyze security --offline is not supported here")
        assert m, out
        print(m.group(0))
        assert float(m.group(1)) <= 2.0, f"exposure {m.group(1)} (want <= 2.0, 'OK')\n{out}"


# --- compose ------------------------------------------------------------------------------------

def compose():
    path = os.path.join(DEPLOY, "compose.yaml")
    doc = load_yaml(path)
    services = doc["services"]
    assert set(services) == {"vrpd", "prometheus", "alertmanager"}, set(services)
    for name, svc in services.items():
        for v in svc.get("volumes", []):
            src = v.split(":")[0]
            if src.startswith("."):
                assert os.path.exists(os.path.join(DEPLOY, src)), f"{name} mounts missing {src}"
            else:
                assert src in doc["volumes"], f"{name}: volume {src} not declared"
    vrpd = services["vrpd"]
    assert vrpd["build"]["context"] == ".." and os.path.isfile(
        os.path.join(DEPLOY, "..", vrpd["build"]["dockerfile"]))
    listen = vrpd["command"][vrpd["command"].index("--listen") + 1]
    port = listen.rsplit(":", 1)[1]
    assert any(p.endswith(f":{port}") for p in vrpd["ports"]), vrpd["ports"]
    assert vrpd.get("read_only") is True and "ALL" in vrpd.get("cap_drop", [])
    # Prometheus scrapes vrpd and alerts Alertmanager by their compose names and ports.
    prom = load_yaml(os.path.join(PROM, "prometheus.yml"))
    targets = [t for j in prom["scrape_configs"] if j["job_name"] == "vrpd"
               for sc in j["static_configs"] for t in sc["targets"]]
    assert targets == [f"vrpd:{port}"], targets
    am_targets = [t for a in prom["alerting"]["alertmanagers"] for sc in a["static_configs"]
                  for t in sc["targets"]]
    am_cmd = services["alertmanager"]["command"]
    am_port = next(c for c in am_cmd if c.startswith("--web.listen-address=")).rsplit(":", 1)[1]
    assert am_targets == [f"alertmanager:{am_port}"], am_targets
    assert "--cluster.listen-address=" in am_cmd
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]
    assert "./prometheus/rules:/etc/prometheus/rules:ro" in services["prometheus"]["volumes"]
    print("compose.yaml: services, mounts, ports and the Prometheus targets agree")
    dc = shutil.which("docker-compose")
    if dc is None:
        print("docker-compose (Debian package docker-compose) not installed: schema check skipped")
        return
    check_ok([dc, "-f", path, "config", "--quiet"], cwd=DEPLOY)
    print("docker-compose config: valid")


# --- Kubernetes ---------------------------------------------------------------------------------

def k8s():
    docs = {}
    for path in sorted(glob.glob(os.path.join(DEPLOY, "k8s", "*.yaml"))):
        with open(path) as f:
            for d in yaml.safe_load_all(f):
                assert d and "kind" in d and "apiVersion" in d, path
                if d["kind"] != "Kustomization":
                    assert d["metadata"]["name"], path
                docs[d["kind"]] = d
    for kind in ("ConfigMap", "Deployment", "Service", "ServiceMonitor", "PrometheusRule",
                 "Kustomization"):
        assert kind in docs, f"no {kind} manifest"
    kust = docs["Kustomization"]
    for r in kust["resources"]:
        assert os.path.isfile(os.path.join(DEPLOY, "k8s", r)), r
    dep, svc, mon = docs["Deployment"], docs["Service"], docs["ServiceMonitor"]
    pod = dep["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert svc["spec"]["selector"].items() <= labels.items()
    assert mon["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    (c,) = pod["spec"]["containers"]
    port = {p["name"]: p["containerPort"] for p in c["ports"]}["http"]
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["args"][c["args"].index("--listen") + 1] == f"0.0.0.0:{port}"
    sec = c["securityContext"]
    assert sec["allowPrivilegeEscalation"] is False and sec["readOnlyRootFilesystem"] is True
    assert sec["capabilities"]["drop"] == ["ALL"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    notes = pod["metadata"]["annotations"]
    assert notes["prometheus.io/scrape"] == "true" and notes["prometheus.io/port"] == str(port)
    assert notes["prometheus.io/path"] == "/metrics"
    assert {p["name"]: p["targetPort"] for p in svc["spec"]["ports"]}["http"] == "http"
    assert mon["spec"]["endpoints"][0]["port"] == "http"
    # The config the pod mounts is a valid vrpd configuration listening on the container port.
    cm = docs["ConfigMap"]
    vol = next(v for v in pod["spec"]["volumes"] if v["name"] == "config")
    assert vol["configMap"]["name"] == cm["metadata"]["name"]
    mount = next(m for m in c["volumeMounts"] if m["name"] == "config")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "vrp:latest"
    assert mount["mountPath"] == "/etc/vrp"  # the image's ENTRYPOINT reads /etc/vrp/vrpd.toml
    assert f'listen = "0.0.0.0:{port}"' in cm["data"]["vrpd.toml"]
    vrpd = os.environ.get("VRPD")
    assert vrpd, "VRPD must name the built vrpd"
    with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
        f.write(cm["data"]["vrpd.toml"])
        f.flush()
        check_ok([vrpd, "--config", f.name, "--check-config"])
    # The operator's rules are the rules file (make_prometheusrule.py regenerates them).
    assert docs["PrometheusRule"]["spec"]["groups"] == load_yaml(RULES)["groups"], (
        "deploy/k8s/prometheusrule.yaml differs from the rules: "
        "run deploy/k8s/make_prometheusrule.py")
    print(f"k8s: {len(docs)} manifests consistent; ConfigMap accepted by vrpd --check-config")


# --- Docker -------------------------------------------------------------------------------------

def docker():
    with open(os.path.join(SOURCE, "Dockerfile")) as f:
        text = f.read()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M | re.I)
    assert len(stages) >= 2 and all(img.startswith("debian:bookworm") for img, _ in stages), stages
    runtime = text[text.rfind("\nFROM "):]
    user = re.findall(r"^USER\s+(\S+)", runtime, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0"), user
    assert re.search(r"^HEALTHCHECK .*vrp-healthcheck.*/healthz", runtime, re.M), "HEALTHCHECK"
    assert re.search(r"^COPY (--chmod=0755 )?deploy/docker/healthcheck.sh "
                     r"/usr/local/bin/vrp-healthcheck$", runtime, re.M), "no health check script"
    # Every shared library of the shipped binaries comes from a package the runtime installs.
    dpkg = tool("dpkg", "dpkg")
    installed = set(re.findall(r"[a-z0-9][a-z0-9.+-]+", runtime.split("install -y", 1)[1]
                                                      .split("&&", 1)[0]))
    binaries = [os.environ.get(k) for k in ("VRPD", "VRPCTL", "VRP_REPLAYD")]
    assert all(binaries), "VRPD, VRPCTL and VRP_REPLAYD must name the built binaries"
    libs = set()
    for b in binaries:
        rc, out = run(["ldd", b])
        assert rc == 0, out
        # Sanitizer runtimes come with the compiler, only in sanitizer builds.
        libs |= {os.path.realpath(l) for l in re.findall(r"=>\s+(\S+)", out)
                 if not re.search(r"lib[a-z]*san", l)}
    needed = {}
    for lib in sorted(libs):
        # dpkg knows the /usr path of merged-/usr systems; ldd may print /lib.
        candidates = [lib, lib.replace("/usr/lib/", "/lib/", 1),
                      lib.replace("/lib/", "/usr/lib/", 1)]
        rc, owner = 1, ""
        for c in dict.fromkeys(candidates):
            rc, owner = run([dpkg, "-S", c])
            if rc == 0:
                break
        assert rc == 0, f"{lib}: no Debian package owns it"
        needed.setdefault(owner.split(":", 1)[0], set()).add(os.path.basename(lib))
    base = {"libc6", "libgcc-s1"}  # in every Debian image
    missing = {p: l for p, l in needed.items() if p not in installed and p not in base}
    assert not missing, f"runtime stage lacks packages for {missing}"
    print(f"Dockerfile: {len(stages)} stages, USER {user[-1]}, runtime packages cover "
          f"{sorted(needed)}")
    healthcheck_script()


class _Health(http.server.BaseHTTPRequestHandler):
    code = 200

    def do_GET(self):
        self.send_response(_Health.code if self.path == "/healthz" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def healthcheck_script():
    script = os.path.join(DEPLOY, "docker", "healthcheck.sh")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    port = str(srv.server_address[1])
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        assert run([script, port, "/healthz"])[0] == 0, "200 must be healthy"
        _Health.code = 503
        rc, out = run([script, port, "/healthz"])
        assert rc == 1 and "503" in out, (rc, out)
        assert run([script, port, "/nope"])[0] == 1
    finally:
        srv.shutdown()
        srv.server_close()
    rc, out = run([script, port])  # nothing listens any more
    assert rc == 1 and "nothing listens" in out, (rc, out)
    print("healthcheck.sh: 200 healthy; 503, 404 and a closed port unhealthy")


def yamllint():
    lint = tool("yamllint", "yamllint")
    files = sorted(glob.glob(os.path.join(DEPLOY, "**", "*.y*ml"), recursive=True))
    check_ok([lint, "--strict", "-d",
              "{extends: default, rules: {line-length: disable, document-start: disable}}", *files])
    print(f"yamllint: {len(files)} files clean")


CHECKS = {
    "promtool-config": promtool_config, "promtool-rules": promtool_rules,
    "promtool-test": promtool_test, "rules-lint": rules_lint, "alertmanager": alertmanager,
    "systemd": systemd, "compose": compose, "k8s": k8s, "docker": docker, "yamllint": yamllint,
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in CHECKS:
        print(f"usage: {sys.argv[0]} {{{','.join(CHECKS)}}}", file=sys.stderr)
        return 2
    try:
        CHECKS[sys.argv[1]]()
    except Skip as e:
        print(f"SKIP: {e}")
        return SKIP
    except AssertionError as e:
        print(f"FAIL {sys.argv[1]}: {e}", file=sys.stderr)
        return 1
    print(f"ok {sys.argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
