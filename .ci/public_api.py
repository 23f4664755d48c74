#!/usr/bin/env python3
"""Lists certmint's public API from rustdoc's JSON output, one item per line, sorted.

Usage: public_api.py target/doc/certmint.json > api.txt

Each line is a public path and what it is: functions and methods with their signatures,
struct fields, enum variants, trait methods, constants with their types, and the traits a type
implements. The committed listing (`public-api.txt`) is compared with a fresh one in CI, so
every change to the API shows up in review.
"""

import json
import sys


def main():
    doc = json.load(open(sys.argv[1]))
    index = doc["index"]
    paths = doc.get("paths", {})
    lines = set()

    def name_of(item_id):
        item = index.get(str(item_id))
        if item and item.get("name"):
            return item["name"]
        summary = paths.get(str(item_id))
        return summary["path"][-1] if summary else "?"

    def ty(t):
        if t is None:
            return "()"
        (kind, v), = t.items()
        if kind == "resolved_path":
            return v["path"].split("::")[-1] + args(v.get("args"))
        if kind == "primitive":
            return v
        if kind == "generic":
            return v
        if kind == "borrowed_ref":
            life = (v["lifetime"] + " ") if v.get("lifetime") else ""
            return "&" + life + ("mut " if v["is_mutable"] else "") + ty(v["type"])
        if kind == "slice":
            return "[" + ty(v) + "]"
        if kind == "array":
            return "[" + ty(v["type"]) + "; " + str(v["len"]) + "]"
        if kind == "tuple":
            return "(" + ", ".join(ty(x) for x in v) + ")"
        if kind in ("impl_trait", "dyn_trait"):
            bounds = v if kind == "impl_trait" else v["traits"]
            names = []
            for b in bounds:
                tb = b.get("trait_bound") if isinstance(b, dict) and "trait_bound" in b else b
                if isinstance(tb, dict) and "trait" in tb:
                    names.append(tb["trait"]["path"].split("::")[-1] + args(tb["trait"].get("args")))
                elif isinstance(b, dict) and "outlives" in b:
                    names.append(b["outlives"])
            word = "impl " if kind == "impl_trait" else "dyn "
            return word + " + ".join(names)
        if kind == "qualified_path":
            return ty(v["self_type"]) + "::" + v["name"]
        if kind == "raw_pointer":
            return "*" + ("mut " if v["is_mutable"] else "const ") + ty(v["type"])
        if kind == "function_pointer":
            return "fn(" + ", ".join(ty(i[1]) for i in v["sig"]["inputs"]) + ")"
        return kind

    def args(a):
        if not a or "angle_bracketed" not in a:
            if a and "parenthesized" in a:
                p = a["parenthesized"]
                return "(" + ", ".join(ty(x) for x in p["inputs"]) + ")" + (
                    " -> " + ty(p["output"]) if p.get("output") else "")
            return ""
        out = []
        for g in a["angle_bracketed"]["args"]:
            if "type" in g:
                out.append(ty(g["type"]))
            elif "lifetime" in g:
                out.append(g["lifetime"])
            elif "const" in g:
                out.append(str(g["const"].get("expr", "_")))
        for c in a["angle_bracketed"].get("constraints", []):
            binding = c.get("binding", {})
            if "equality" in binding:
                out.append(c["name"] + " = " + ty(binding["equality"].get("type")))
        return "<" + ", ".join(out) + ">" if out else ""

    def sig(f):
        s = f["sig"]
        inputs = []
        for name, t in s["inputs"]:
            if name == "self":
                rendered = ty(t)
                if rendered == "Self":
                    inputs.append("self")
                elif rendered in ("&Self", "&mut Self"):
                    inputs.append(rendered.replace("Self", "self"))
                else:
                    inputs.append("self: " + rendered)
            else:
                inputs.append(name + ": " + ty(t))
        out = s.get("output")
        return "(" + ", ".join(inputs) + ")" + (" -> " + ty(out) if out else "")

    def describe(path, item_id, seen):
        item = index.get(str(item_id))
        if item is None:
            lines.add(f"pub use {path} (re-export of an external item)")
            return
        if item_id in seen:
            return
        seen = seen | {item_id}
        (kind, inner), = item["inner"].items()
        if kind == "module":
            lines.add(f"pub mod {path}")
            for child in inner["items"]:
                walk_child(path, child, seen)
        elif kind == "use":
            target = inner["id"]
            name = inner["name"]
            if inner.get("is_glob"):
                lines.add(f"pub use {path}::* (glob)")
            elif target is None:
                lines.add(f"pub use {path}::{name}")
            else:
                describe(f"{path}::{name}", target, seen)
        elif kind == "function":
            lines.add(f"pub fn {path}{sig(inner)}")
        elif kind == "constant":
            lines.add(f"pub const {path}: {ty(inner['type'])}")
        elif kind == "static":
            lines.add(f"pub static {path}: {ty(inner['type'])}")
        elif kind == "struct":
            attrs = " ".join(a if isinstance(a, str) else json.dumps(a) for a in item.get("attrs", []))
            ne = " #[non_exhaustive]" if "non_exhaustive" in attrs else ""
            lines.add(f"pub struct {path}{ne}")
            sk = inner["kind"]
            if "plain" in sk:
                for fid in sk["plain"]["fields"]:
                    f = index[str(fid)]
                    lines.add(f"pub {path}::{f['name']}: {ty(f['inner']['struct_field'])}")
            elif "tuple" in sk:
                for n, fid in enumerate(sk["tuple"]):
                    if fid is not None:
                        f = index[str(fid)]
                        lines.add(f"pub {path}::{n}: {ty(f['inner']['struct_field'])}")
            impls(path, inner["impls"])
        elif kind == "enum":
            attrs = " ".join(a if isinstance(a, str) else json.dumps(a) for a in item.get("attrs", []))
            ne = " #[non_exhaustive]" if "non_exhaustive" in attrs else ""
            lines.add(f"pub enum {path}{ne}")
            for vid in inner["variants"]:
                v = index[str(vid)]
                vk = v["inner"]["variant"]["kind"]
                if vk == "plain":
                    lines.add(f"pub {path}::{v['name']}")
                elif "tuple" in vk:
                    fields = [ty(index[str(f)]["inner"]["struct_field"]) if f is not None else "_"
                              for f in vk["tuple"]]
                    lines.add(f"pub {path}::{v['name']}({', '.join(fields)})")
                elif "struct" in vk:
                    fields = [f"{index[str(f)]['name']}: {ty(index[str(f)]['inner']['struct_field'])}"
                              for f in vk["struct"]["fields"]]
                    lines.add(f"pub {path}::{v['name']} {{ {', '.join(fields)} }}")
            impls(path, inner["impls"])
        elif kind == "trait":
            lines.add(f"pub trait {path}")
            for mid in inner["items"]:
                m = index[str(mid)]
                if "function" in m["inner"]:
                    provided = " (provided)" if m["inner"]["function"].get("has_body") else ""
                    lines.add(f"pub fn {path}::{m['name']}{sig(m['inner']['function'])}{provided}")
        elif kind == "type_alias":
            lines.add(f"pub type {path} = {ty(inner['type'])}")
        elif kind == "macro":
            lines.add(f"pub macro {path}!")
        else:
            lines.add(f"pub {kind} {path}")

    def impls(path, impl_ids):
        for iid in impl_ids:
            imp = index.get(str(iid))
            if imp is None:
                continue
            inner = imp["inner"]["impl"]
            if inner.get("is_synthetic") or inner.get("blanket_impl") is not None:
                continue
            trait = inner.get("trait")
            if trait is None:
                for mid in inner["items"]:
                    m = index.get(str(mid))
                    if m and m.get("visibility") == "public" and "function" in m["inner"]:
                        lines.add(f"pub fn {path}::{m['name']}{sig(m['inner']['function'])}")
                    elif m and m.get("visibility") == "public" and "assoc_const" in m["inner"]:
                        lines.add(f"pub const {path}::{m['name']}: {ty(m['inner']['assoc_const']['type'])}")
            else:
                lines.add(f"impl {trait['path'].split('::')[-1]}{args(trait.get('args'))} for {path}")

    def walk_child(path, child_id, seen):
        item = index[str(child_id)]
        if item.get("visibility") != "public":
            return
        if "use" in item["inner"]:
            describe(path, child_id, seen)
        else:
            describe(f"{path}::{item['name']}", child_id, seen)

    root = index[str(doc["root"])]
    for child in root["inner"]["module"]["items"]:
        walk_child("certmint", child, frozenset())
    def key(line):
        for word in line.split():
            if word.startswith("certmint::"):
                return (word.split("(")[0].split(":")[0:] and word, line)
        return (line, line)

    for line in sorted(lines, key=key):
        print(line)


if __name__ == "__main__":
    main()
