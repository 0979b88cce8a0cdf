#!/usr/bin/env python3
"""Checks the Kubernetes manifests offline; run by scripts/check-deploy.

Every resource is validated against the Kubernetes API schemas that kubernetes-validate ships
(strict: an unknown field is an error, as under kubectl's strict field validation), for each
Kubernetes version given. A SpinApp is validated against the schema in
deploy/k8s/schemas/, written down from spin-operator's CRD; any other kind without a schema
is an error, never a warning. Then the rules this project's deployment must keep: probes,
limits, the security context, listening on every address, references that resolve, and
tokens that the callers files they are meant for accept with the scopes they need.

Input: a rendered stream (`kubectl kustomize deploy/k8s`) with --rendered, or with
--kustomization the script reads kustomization.yaml itself (resources, namespace, images,
generators; no name hashes), for machines without kustomize. Further plain manifest files
may follow.
"""

import argparse
import base64
import json
import pathlib
import re
import sys
import tomllib

import jsonschema
import referencing
import yaml
from kubernetes_validate import utils as kv

errors: list[str] = []


def fail(where: str, message: str) -> None:
    errors.append(f"{where}: {message}")


def name_of(doc: dict) -> str:
    return f"{doc.get('kind', '?')}/{doc.get('metadata', {}).get('name', '?')}"


# --- Input -------------------------------------------------------------------------------

def load_stream(text: str, origin: str) -> list[dict]:
    try:
        return [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError as e:
        sys.exit(f"{origin}: not YAML: {e}")


def render_kustomization(directory: pathlib.Path) -> list[dict]:
    """The part of kustomize this directory uses, for machines without kustomize."""
    k = yaml.safe_load((directory / "kustomization.yaml").read_text())
    known = {"apiVersion", "kind", "namespace", "resources", "configurations", "images",
             "secretGenerator", "configMapGenerator"}
    unknown = set(k) - known
    if unknown:
        sys.exit(f"kustomization.yaml uses {sorted(unknown)}, which this reader does not "
                 "render; install kubectl (1.21 or later) or kustomize")
    docs: list[dict] = []
    for resource in k.get("resources", []):
        docs += load_stream((directory / resource).read_text(), resource)
    for kind, key in (("Secret", "secretGenerator"), ("ConfigMap", "configMapGenerator")):
        for gen in k.get(key, []):
            data = {}
            for spec in gen.get("files", []):
                target, _, source = spec.partition("=")
                content = (directory / (source or target)).read_bytes()
                target = pathlib.PurePath(target).name
                if kind == "Secret":
                    data[target] = base64.b64encode(content).decode()
                else:
                    data[target] = content.decode()
            doc = {"apiVersion": "v1", "kind": kind, "metadata": {"name": gen["name"]},
                   "data": data}
            if kind == "Secret":
                doc["type"] = "Opaque"
            docs.append(doc)
    images = {i["name"]: i for i in k.get("images", [])}

    def set_image(holder: dict) -> None:
        image = images.get(holder.get("image"))
        if image:
            holder["image"] = f"{image.get('newName', holder['image'])}:{image['newTag']}"

    for doc in docs:
        if doc["kind"] != "Namespace" and "namespace" in k:
            doc["metadata"]["namespace"] = k["namespace"]
        if doc["kind"] == "SpinApp":
            set_image(doc["spec"])
        for c in pod_spec(doc).get("containers", []) if pod_spec(doc) else []:
            set_image(c)
    return docs


# --- Schemas -----------------------------------------------------------------------------

def spinapp_validator(schema_path: pathlib.Path, version: str) -> jsonschema.Draft202012Validator:
    schema = json.loads(schema_path.read_text())
    # The Kubernetes definitions of the checked version, for the core types a SpinApp uses.
    defs = kv.schema_contents(
        f"kubernetes-json-schema/v{schema_dir_version(version)}-local-strict/_definitions.json",
        version)
    registry = referencing.Registry().with_resources([
        (defs["$id"], referencing.Resource.from_contents(defs)),
        (schema["$id"], referencing.Resource.from_contents(schema)),
    ])
    return jsonschema.Draft202012Validator(schema, registry=registry)


def schema_dir_version(version: str) -> str:
    # The newest schema set not newer than the version asked for, as kubernetes-validate does.
    want = kv.major_minor(version)
    candidates = [v for v in kv.all_versions() if kv.major_minor(v) <= want]
    if not candidates:
        sys.exit(f"kubernetes-validate {kv.__version__} has no schemas for Kubernetes {version}")
    return candidates[-1]


def validate_schemas(docs: list[tuple[str, dict]], versions: list[str],
                     spinapp_schema: pathlib.Path) -> None:
    for version in versions:
        if kv.major_minor(version) > kv.latest_version():
            sys.exit(f"kubernetes-validate {kv.__version__} does not know Kubernetes {version}")
        spinapp = spinapp_validator(spinapp_schema, version)
        for origin, doc in docs:
            where = f"{origin} {name_of(doc)} (Kubernetes {version})"
            if doc.get("kind") == "SpinApp":
                for e in sorted(spinapp.iter_errors(doc), key=lambda e: list(e.path)):
                    fail(where, f"{'.'.join(map(str, e.path)) or '(top)'}: {e.message}")
                continue
            try:
                kv.validate(doc, version, strict=True)
            except kv.ValidationError as e:
                fail(where, f"{'.'.join(map(str, e.path)) or '(top)'}: {e.message}")
            except kv.SchemaNotFoundError as e:
                fail(where, f"no schema, so it cannot be checked: {e.message}")


# --- The deployment's own rules ----------------------------------------------------------

def pod_spec(doc: dict) -> dict | None:
    if doc.get("kind") in ("StatefulSet", "Deployment", "DaemonSet", "Job"):
        return doc.get("spec", {}).get("template", {}).get("spec", {})
    return None


def probe_path(probe: dict | None) -> str | None:
    return (probe or {}).get("httpGet", {}).get("path")


def check_workload(doc: dict, by_kind: dict[str, dict[str, dict]]) -> None:
    where = name_of(doc)
    spec = doc["spec"]
    pod = pod_spec(doc)
    labels = spec["template"]["metadata"].get("labels", {})
    if doc["kind"] == "StatefulSet":
        service = by_kind["Service"].get(spec.get("serviceName", ""))
        if not service:
            fail(where, f"serviceName {spec.get('serviceName')!r} names no Service here")
        elif service["spec"].get("clusterIP") != "None":
            fail(where, f"serviceName {service['metadata']['name']} is not headless")
        if not spec.get("volumeClaimTemplates"):
            fail(where, "keeps its data on no volume claim")
    psc = pod.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True or not psc.get("runAsUser"):
        fail(where, "the pod must run as a non-root user (runAsNonRoot, runAsUser)")
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        fail(where, "the pod must use the RuntimeDefault seccomp profile")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    claims = {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])}
    for v in volumes.values():
        if "secret" in v and v["secret"]["secretName"] not in by_kind["Secret"]:
            fail(where, f"volume {v['name']} mounts the missing Secret {v['secret']['secretName']}")
    for c in pod["containers"]:
        cw = f"{where} container {c['name']}"
        if probe_path(c.get("readinessProbe")) != "/readyz":
            fail(cw, "needs a readiness probe on /readyz")
        if probe_path(c.get("livenessProbe")) != "/healthz":
            fail(cw, "needs a liveness probe on /healthz")
        res = c.get("resources", {})
        for side in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in res.get(side, {}):
                    fail(cw, f"sets no {side}.{r}")
        sc = c.get("securityContext", {})
        if sc.get("readOnlyRootFilesystem") is not True:
            fail(cw, "must have a read-only root filesystem")
        if sc.get("allowPrivilegeEscalation") is not False:
            fail(cw, "must set allowPrivilegeEscalation: false")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            fail(cw, "must drop ALL capabilities")
        if "/" not in c.get("image", ""):
            fail(cw, f"image {c.get('image')!r} was not set by the kustomization's images")
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        env = {e["name"]: e for e in c.get("env", [])}
        listen = [e.get("value", "") for n, e in env.items() if n.endswith("_LISTEN")]
        if len(listen) != 1 or not listen[0].startswith("0.0.0.0:"):
            fail(cw, f"must listen on 0.0.0.0 (its *_LISTEN is {listen}); the default is loopback")
        elif int(listen[0].rsplit(":", 1)[1]) not in ports.values():
            fail(cw, f"listens on {listen[0]} but declares ports {ports}")
        for m in c.get("volumeMounts", []):
            if m["name"] not in volumes and m["name"] not in claims:
                fail(cw, f"mounts {m['name']}, which is neither a volume nor a claim")
        mounted = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        for name, e in env.items():
            value = e.get("value", "")
            if name.endswith(("_DATA_DIR", "_CALLERS", "_TOKEN_FILE")):
                parent = str(pathlib.PurePosixPath(value).parent)
                if parent not in mounted:
                    fail(cw, f"{name}={value} lies on no mounted volume")
                elif name.endswith(("_CALLERS", "_TOKEN_FILE")):
                    secret = volumes[mounted[parent]].get("secret", {}).get("secretName")
                    key = pathlib.PurePosixPath(value).name
                    if secret not in by_kind["Secret"] or key not in by_kind["Secret"][secret].get("data", {}):
                        fail(cw, f"{name}={value}: the Secret {secret} has no key {key}")
            for ref_kind, ref in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                sel = e.get("valueFrom", {}).get(ref)
                if sel and sel["name"] not in by_kind[ref_kind]:
                    fail(cw, f"{name} reads the missing {ref_kind} {sel['name']}")
    for service in by_kind["Service"].values():
        selector = service["spec"].get("selector", {})
        matched = selector and selector.items() <= labels.items()
        for p in service["spec"].get("ports", []) if matched else []:
            names = {q.get("name") for c in pod["containers"] for q in c.get("ports", [])}
            if isinstance(p.get("targetPort"), str) and p["targetPort"] not in names:
                fail(name_of(service), f"targets port {p['targetPort']}, which {where} lacks")


def check_services(by_kind: dict[str, dict[str, dict]]) -> None:
    for service in by_kind["Service"].values():
        selector = service["spec"].get("selector", {})
        pods = [w for k in ("StatefulSet", "Deployment") for w in by_kind[k].values()
                if selector and selector.items()
                <= w["spec"]["template"]["metadata"].get("labels", {}).items()]
        if len(pods) != 1:
            fail(name_of(service), f"selects {len(pods)} workloads, not one")


def check_spinapp(doc: dict, by_kind: dict[str, dict[str, dict]]) -> None:
    where = name_of(doc)
    spec = doc["spec"]
    if "/" not in spec.get("image", ""):
        fail(where, f"image {spec.get('image')!r} was not set by the kustomization's images")
    for v in spec.get("variables", []):
        frm = v.get("valueFrom", {})
        for ref_kind, ref in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
            sel = frm.get(ref)
            if not sel:
                continue
            target = by_kind[ref_kind].get(sel["name"])
            if not target:
                fail(where, f"variable {v['name']} reads the missing {ref_kind} {sel['name']}")
            elif sel["key"] not in target.get("data", {}):
                fail(where, f"variable {v['name']}: {ref_kind} {sel['name']} has no key {sel['key']}")
    for probe in ("readiness", "liveness"):
        if probe_path(spec.get("checks", {}).get(probe)) != "/healthz":
            fail(where, f"needs a {probe} check on /healthz")


def secret_text(by_kind: dict[str, dict[str, dict]], generated: str, key: str) -> str | None:
    secret = by_kind["Secret"].get(generated)
    if not secret or key not in secret.get("data", {}):
        return None
    return base64.b64decode(secret["data"][key]).decode().strip()


# Who presents which token to whom, with the scopes it needs there: (Secret, key) of the
# token, then the callers files (Secret) that must accept it.
TOKENS = [
    (("order-node-tokens", "catalog-token"),
     [("catalog-callers", {"catalog:read", "catalog:reserve"}),
      ("catalog-replica-callers", {"catalog:read"})]),
    (("search-node-tokens", "catalog-token"),
     [("catalog-callers", {"catalog:read", "catalog:feed"})]),
    (("catalog-replica-tokens", "primary-token"),
     [("catalog-callers", {"catalog:read", "catalog:feed"})]),
    (("edge-composer-tokens", "catalog_token"),
     [("catalog-callers", {"catalog:read"}), ("catalog-replica-callers", {"catalog:read"})]),
    (("edge-composer-tokens", "orders_token"),
     [("orders-callers", {"orders:read", "orders:write", "orders:on-behalf"})]),
    (("edge-composer-tokens", "search_token"),
     [("search-callers", {"search:read"})]),
]

SCOPE = re.compile(r"^[a-z0-9_-]+:[a-z0-9_-]+$")

# The API server's quantity syntax; the shipped schemas accept any string there.
QUANTITY = re.compile(r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
                      r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$")


def check_quantities(node, where: str) -> None:
    """Every requests/limits value anywhere in a resource (containers, claims, a SpinApp)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("requests", "limits") and isinstance(value, dict):
                for resource, q in value.items():
                    if not QUANTITY.match(str(q)):
                        fail(where, f"{key}.{resource} {q!r} is not a Kubernetes quantity")
            else:
                check_quantities(value, where)
    elif isinstance(node, list):
        for item in node:
            check_quantities(item, where)


def check_callers(by_kind: dict[str, dict[str, dict]], generated: dict[str, str]) -> None:
    """The rules chassis::callers enforces at start, and that every token reaches its callee."""
    files: dict[str, dict[str, set[str]]] = {}
    for base in {callee for _, callees in TOKENS for callee, _ in callees}:
        text = secret_text(by_kind, generated.get(base, ""), "callers.toml")
        if text is None:
            fail(base, "no such Secret with a callers.toml")
            continue
        try:
            callers = tomllib.loads(text).get("caller", [])
        except tomllib.TOMLDecodeError as e:
            fail(base, f"callers.toml is not TOML: {e}")
            continue
        tokens: dict[str, set[str]] = {}
        for c in callers:
            if set(c) != {"name", "token", "scopes"}:
                fail(base, f"caller {c.get('name')!r} must have exactly name, token and scopes")
                continue
            if len(c["token"]) < 16:
                fail(base, f"caller {c['name']!r} has a token shorter than 16 characters")
            if c["token"] in tokens:
                fail(base, f"caller {c['name']!r} shares its token with another caller")
            if not c["scopes"] or not all(SCOPE.match(s) for s in c["scopes"]):
                fail(base, f"caller {c['name']!r} has no scopes or a malformed one")
            tokens[c["token"]] = set(c["scopes"])
        if len({c.get("name") for c in callers}) != len(callers) or not callers:
            fail(base, "lists no caller, or one caller twice")
        files[base] = tokens
    for (base, key), callees in TOKENS:
        token = secret_text(by_kind, generated.get(base, ""), key)
        if token is None:
            fail(base, f"no such Secret with the key {key}")
            continue
        for callee, needed in callees:
            granted = files.get(callee, {}).get(token)
            if granted is None:
                fail(f"{base}/{key}", f"is not a token that {callee} accepts")
            elif not needed <= granted:
                fail(f"{base}/{key}", f"lacks {sorted(needed - granted)} in {callee}")


def check_rules(docs: list[dict]) -> None:
    by_kind: dict[str, dict[str, dict]] = {k: {} for k in
                                           ("Service", "Secret", "ConfigMap", "StatefulSet",
                                            "Deployment")}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    # kustomize appends a hash to generated names; map each base name to the generated one.
    generated = {}
    for kind in ("Secret", "ConfigMap"):
        for name in by_kind[kind]:
            generated[re.sub(r"-[a-z0-9]{10}$", "", name)] = name
            generated.setdefault(name, name)
    for doc in docs:
        check_quantities(doc.get("spec"), name_of(doc))
        if pod_spec(doc) is not None:
            check_workload(doc, by_kind)
        elif doc["kind"] == "SpinApp":
            check_spinapp(doc, by_kind)
    check_services(by_kind)
    check_callers(by_kind, generated)
    if not by_kind["StatefulSet"]:
        fail("render", "holds no StatefulSet at all")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--rendered", type=pathlib.Path, help="kustomize's output")
    source.add_argument("--kustomization", type=pathlib.Path, help="a kustomization directory")
    ap.add_argument("--spinapp-schema", type=pathlib.Path, required=True)
    ap.add_argument("-k", "--kubernetes-version", action="append", required=True)
    ap.add_argument("extra", nargs="*", type=pathlib.Path, help="further manifests (schemas only)")
    args = ap.parse_args()

    if args.rendered:
        rendered = load_stream(args.rendered.read_text(), str(args.rendered))
        origin = "kustomization"
    else:
        rendered = render_kustomization(args.kustomization)
        origin = f"{args.kustomization} (read without kustomize)"
    docs = [(origin, d) for d in rendered]
    for path in args.extra:
        docs += [(str(path), d) for d in load_stream(path.read_text(), str(path))]

    validate_schemas(docs, args.kubernetes_version, args.spinapp_schema)
    check_rules(rendered)

    for e in errors:
        print(f"ERROR {e}")
    if errors:
        print(f"{len(errors)} problem(s) in {len(docs)} resources")
        return 1
    print(f"valid against Kubernetes {', '.join(args.kubernetes_version)} "
          f"(kubernetes-validate {kv.__version__}, strict):")
    for where, doc in docs:
        print(f"  {name_of(doc)} ({where})")
    print(f"{len(rendered)} resources of the kustomization keep the deployment's rules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
