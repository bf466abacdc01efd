use super::*;
use serde_json::json;

const V1: &str = "2021-07-28";

fn version(v: &str) -> Value {
    json!({ "name": "Version", "in": "header", "required": true, "schema": { "type": "string", "enum": [v] } })
}

/// A one-module spec set with the given paths and component schemas.
fn set(paths: Value, schemas: Value) -> ModuleDocs {
    let doc = json!({ "openapi": "3.0.0", "paths": paths, "components": { "schemas": schemas } });
    ModuleDocs::from([("contacts".to_owned(), doc)])
}

/// `POST /things` taking `body` and answering `resp`, with extra parameters.
fn post(params: Value, body: Value, resp: Value) -> Value {
    let mut all = vec![version(V1)];
    all.extend(params.as_array().cloned().unwrap_or_default());
    json!({ "/things": { "post": {
        "operationId": "create-thing",
        "parameters": all,
        "requestBody": { "required": true, "content": { "application/json": { "schema": body } } },
        "responses": {
            "201": { "description": "ok", "content": { "application/json": { "schema": resp } } },
            "400": { "description": "bad" }
        }
    } } })
}

fn obj(props: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": props, "required": required })
}

fn the_changes(d: &SpecDiff) -> Vec<Change> {
    let m = &d.modules["contacts"];
    assert_eq!(m.changed.len(), 1, "{d}");
    m.changed[0].changes.clone()
}

/// The single change of a diff, as (breaking, message).
fn one_change(old: &ModuleDocs, new: &ModuleDocs) -> (bool, String) {
    let d = diff(old, new);
    let changes = the_changes(&d);
    assert_eq!(changes.len(), 1, "{d}");
    (changes[0].breaking, changes[0].message.clone())
}

fn simple_op(id: &str) -> Value {
    json!({ "operationId": id, "parameters": [version(V1)], "responses": { "200": { "description": "ok" } } })
}

#[test]
fn identical_specs_are_empty() {
    let s = set(
        post(
            json!([]),
            obj(json!({ "a": { "type": "string" } }), &[]),
            json!({}),
        ),
        json!({}),
    );
    let d = diff(&s, &s);
    assert!(d.is_empty());
    assert_eq!(d.breaking_count(), 0);
    assert!(d.to_string().starts_with("0 modules added"));
}

#[test]
fn operations_added_and_removed() {
    let old = set(
        json!({ "/a": { "get": simple_op("get-a") }, "/b": { "get": simple_op("get-b") } }),
        json!({}),
    );
    let new = set(
        json!({ "/a": { "get": simple_op("get-a"), "delete": simple_op("delete-a") } }),
        json!({}),
    );
    let d = diff(&old, &new);
    let m = &d.modules["contacts"];
    assert_eq!(m.added.len(), 1);
    assert_eq!(m.added[0].to_string(), "DELETE /a (delete-a)");
    assert_eq!(m.removed[0].route(), "GET /b");
    assert!(m.changed.is_empty() && m.moved.is_empty());
    assert_eq!((d.operations_added(), d.operations_removed()), (1, 1));
    assert_eq!(d.breaking_count(), 1, "only the removal breaks");
    let report = d.to_string();
    assert!(report.contains("  + DELETE /a (delete-a)\n"), "{report}");
    assert!(
        report.contains("  - GET /b (get-b) [BREAKING]\n"),
        "{report}"
    );
}

#[test]
fn moved_operation_is_matched_by_operation_id() {
    let old = set(
        json!({ "/contacts/old": { "get": simple_op("get-thing") } }),
        json!({}),
    );
    let new = set(
        json!({ "/contacts/new": { "get": simple_op("get-thing") } }),
        json!({}),
    );
    let d = diff(&old, &new);
    let m = &d.modules["contacts"];
    assert!(m.added.is_empty() && m.removed.is_empty());
    assert_eq!(m.moved.len(), 1);
    assert!(m.moved[0].is_moved() && m.moved[0].is_breaking());
    assert_eq!(d.breaking_count(), 1);
    assert!(
        d.to_string()
            .contains("  > GET /contacts/old (get-thing) moved to GET /contacts/new [BREAKING]")
    );
}

#[test]
fn ambiguous_operation_ids_are_not_matched() {
    let old = set(
        json!({ "/x": { "get": simple_op("dup") }, "/y": { "get": simple_op("dup") } }),
        json!({}),
    );
    let new = set(json!({ "/z": { "get": simple_op("dup") } }), json!({}));
    let m = &diff(&old, &new).modules["contacts"];
    assert_eq!((m.added.len(), m.removed.len(), m.moved.len()), (1, 2, 0));
}

#[test]
fn renamed_placeholder_is_a_move_with_parameter_changes() {
    let op = |name: &str, id: &str| {
        json!({ "operationId": id, "parameters": [version(V1),
            { "name": name, "in": "path", "required": true, "schema": { "type": "string" } }],
            "responses": { "200": { "description": "ok" } } })
    };
    let old = set(
        json!({ "/c/{id}": { "get": op("id", "get-c") } }),
        json!({}),
    );
    let new = set(
        json!({ "/c/{contactId}": { "get": op("contactId", "get-contact") } }),
        json!({}),
    );
    let m = &diff(&old, &new).modules["contacts"];
    assert_eq!(m.moved.len(), 1);
    let msgs: Vec<&str> = m.moved[0]
        .changes
        .iter()
        .map(|c| c.message.as_str())
        .collect();
    assert!(msgs.contains(&"param path `id` removed"), "{msgs:?}");
    assert!(
        msgs.iter()
            .any(|s| s.starts_with("operationId get-c -> get-contact")),
        "{msgs:?}"
    );
}

#[test]
fn new_required_parameter_breaks() {
    let body = obj(json!({}), &[]);
    let old = set(post(json!([]), body.clone(), json!({})), json!({}));
    let p = json!([{ "name": "locationId", "in": "query", "required": true, "schema": { "type": "string" } }]);
    let new = set(post(p, body, json!({})), json!({}));
    let (breaking, msg) = one_change(&old, &new);
    assert!(breaking);
    assert_eq!(msg, "param query `locationId` added (required, string)");
    assert_eq!(diff(&old, &new).breaking_count(), 1);
}

#[test]
fn new_optional_parameter_does_not_break() {
    let body = obj(json!({}), &[]);
    let old = set(post(json!([]), body.clone(), json!({})), json!({}));
    let p = json!([{ "name": "limit", "in": "query", "required": false, "schema": { "type": "integer" } }]);
    let new = set(post(p, body, json!({})), json!({}));
    let (breaking, msg) = one_change(&old, &new);
    assert!(!breaking);
    assert_eq!(msg, "param query `limit` added (optional, integer)");
    let d = diff(&old, &new);
    assert_eq!(d.breaking_count(), 0);
    assert!(!d.to_string().contains("BREAKING"));
}

#[test]
fn parameter_removed_retyped_or_made_required_breaks() {
    let p = |ty: &str, req: bool| json!([{ "name": "q", "in": "query", "required": req, "schema": { "type": ty } }]);
    let body = obj(json!({}), &[]);
    let base = set(post(p("string", false), body.clone(), json!({})), json!({}));
    let cases = [
        (
            set(post(json!([]), body.clone(), json!({})), json!({})),
            "param query `q` removed",
        ),
        (
            set(
                post(p("integer", false), body.clone(), json!({})),
                json!({}),
            ),
            "param query `q`: type string -> integer",
        ),
        (
            set(post(p("string", true), body.clone(), json!({})), json!({})),
            "param query `q` now required",
        ),
    ];
    for (new, want) in cases {
        assert_eq!(one_change(&base, &new), (true, want.to_owned()));
    }
    let relaxed = set(post(p("string", true), body.clone(), json!({})), json!({}));
    assert_eq!(
        one_change(&relaxed, &base),
        (false, "param query `q` now optional".to_owned())
    );
}

#[test]
fn request_property_removed_breaks() {
    let old = set(
        post(
            json!([]),
            obj(
                json!({ "a": { "type": "string" }, "b": { "type": "string" } }),
                &[],
            ),
            json!({}),
        ),
        json!({}),
    );
    let new = set(
        post(
            json!([]),
            obj(json!({ "a": { "type": "string" } }), &[]),
            json!({}),
        ),
        json!({}),
    );
    assert_eq!(
        one_change(&old, &new),
        (true, "request body: property `b` removed".to_owned())
    );
}

#[test]
fn request_property_changes() {
    let body =
        |props: Value, req: &[&str]| set(post(json!([]), obj(props, req), json!({})), json!({}));
    let old = body(json!({ "a": { "type": "string" } }), &[]);
    let cases = [
        (
            body(json!({ "a": { "type": "string" } }), &["a"]),
            true,
            "request body: property `a` now required",
        ),
        (
            body(json!({ "a": { "type": "number" } }), &[]),
            true,
            "request body `a`: type string -> number",
        ),
        (
            body(
                json!({ "a": { "type": "string" }, "b": { "type": "string" } }),
                &["b"],
            ),
            true,
            "request body: property `b` added (required)",
        ),
        (
            body(
                json!({ "a": { "type": "string" }, "b": { "type": "string" } }),
                &[],
            ),
            false,
            "request body: property `b` added (optional)",
        ),
        (
            body(
                json!({ "a": { "type": "string", "description": "new words", "example": "x" } }),
                &[],
            ),
            false,
            "",
        ),
    ];
    for (new, breaking, want) in cases {
        if want.is_empty() {
            assert!(
                diff(&old, &new).is_empty(),
                "descriptions and examples are ignored"
            );
        } else {
            assert_eq!(one_change(&old, &new), (breaking, want.to_owned()));
        }
    }
}

#[test]
fn response_property_added_does_not_break_but_removed_does() {
    let resp = |props: Value| {
        set(
            post(json!([]), obj(json!({}), &[]), obj(props, &[])),
            json!({}),
        )
    };
    let old = resp(json!({ "id": { "type": "string" } }));
    let new = resp(json!({ "id": { "type": "string" }, "name": { "type": "string" } }));
    assert_eq!(
        one_change(&old, &new),
        (
            false,
            "response 201: property `name` added (optional)".to_owned()
        )
    );
    assert_eq!(
        one_change(&new, &old),
        (true, "response 201: property `name` removed".to_owned())
    );
    let retyped = resp(json!({ "id": { "type": "integer" } }));
    assert_eq!(
        one_change(&old, &retyped),
        (true, "response 201 `id`: type string -> integer".to_owned())
    );
}

#[test]
fn enum_values_in_requests() {
    let body = |vals: Value| {
        let schema = obj(json!({ "kind": { "type": "string", "enum": vals } }), &[]);
        set(post(json!([]), schema, json!({})), json!({}))
    };
    let old = body(json!(["a", "b"]));
    let fewer = body(json!(["a"]));
    let more = body(json!(["a", "b", "c"]));
    assert_eq!(
        one_change(&old, &fewer),
        (
            true,
            "request body `kind`: enum values removed: \"b\"".to_owned()
        )
    );
    assert_eq!(
        one_change(&old, &more),
        (
            false,
            "request body `kind`: enum values added: \"c\"".to_owned()
        )
    );
}

#[test]
fn enum_values_in_responses_do_not_break() {
    let resp = |vals: Value| {
        let schema = obj(json!({ "kind": { "type": "string", "enum": vals } }), &[]);
        set(post(json!([]), obj(json!({}), &[]), schema), json!({}))
    };
    let d = diff(&resp(json!(["a", "b"])), &resp(json!(["a", "c"])));
    let changes = the_changes(&d);
    assert_eq!(changes.len(), 2);
    assert!(changes.iter().all(|c| !c.breaking));
}

#[test]
fn version_change_breaks() {
    let op = |v: &str| json!({ "/a": { "get": { "operationId": "a", "parameters": [version(v)], "responses": {} } } });
    let (breaking, msg) = one_change(&set(op(V1), json!({})), &set(op("2021-04-15"), json!({})));
    assert!(breaking);
    assert_eq!(msg, "Version 2021-07-28 -> 2021-04-15");
}

#[test]
fn operation_id_rename_is_reported() {
    let old = set(json!({ "/a": { "get": simple_op("getThing") } }), json!({}));
    let same_name = set(
        json!({ "/a": { "get": simple_op("get-thing") } }),
        json!({}),
    );
    let renamed = set(
        json!({ "/a": { "get": simple_op("fetch-thing") } }),
        json!({}),
    );
    assert!(!one_change(&old, &same_name).0);
    assert!(one_change(&old, &renamed).0);
    assert_eq!(
        crate::repair::sdk_method_name("getHTTPThing2Now"),
        "get_http_thing2_now"
    );
}

#[test]
fn local_refs_are_resolved() {
    let body = json!({ "$ref": "#/components/schemas/Body" });
    let paths = post(
        json!([]),
        body,
        json!({ "$ref": "#/components/schemas/Out" }),
    );
    let inner = |extra: bool| {
        let mut props = json!({ "name": { "type": "string" } });
        if extra {
            props["nick"] = json!({ "type": "string" });
        }
        obj(props, &[])
    };
    let schemas = |extra: bool| {
        json!({
            "Body": { "type": "object", "properties": { "who": { "$ref": "#/components/schemas/Who" } } },
            "Who": { "allOf": [ { "$ref": "#/components/schemas/WhoBase" } ], "description": "wrapped" },
            "WhoBase": inner(extra),
            "Out": { "type": "array", "items": { "$ref": "#/components/schemas/Who" } },
        })
    };
    let old = set(paths.clone(), schemas(false));
    let new = set(paths, schemas(true));
    let d = diff(&old, &new);
    let msgs: Vec<String> = the_changes(&d).into_iter().map(|c| c.message).collect();
    assert_eq!(
        msgs,
        [
            "request body: property `who.nick` added (optional)",
            "response 201: property `[].nick` added (optional)"
        ]
    );
    // An inline copy of the same schema is no change.
    let inline = set(
        post(
            json!([]),
            json!({ "type": "object", "properties": { "who": inner(false) } }),
            json!({ "type": "array", "items": inner(false) }),
        ),
        json!({}),
    );
    assert!(diff(&old, &inline).is_empty(), "{}", diff(&old, &inline));
}

#[test]
fn external_refs_compare_by_string() {
    let with = |r: &str| {
        let schema = obj(json!({ "meta": { "$ref": r } }), &[]);
        set(post(json!([]), obj(json!({}), &[]), schema), json!({}))
    };
    let a = with("../common/common-schemas.json#/components/schemas/A");
    let b = with("../common/common-schemas.json#/components/schemas/B");
    assert!(diff(&a, &a).is_empty());
    let (breaking, msg) = one_change(&a, &b);
    assert!(breaking);
    assert!(
        msg.starts_with("response 201 `meta`: type $ref ../common/"),
        "{msg}"
    );
}

#[test]
fn cyclic_refs_terminate() {
    let schemas = |extra: bool| {
        let mut node = json!({ "type": "object", "properties": {
            "children": { "type": "array", "items": { "$ref": "#/components/schemas/Node" } },
            "peer": { "$ref": "#/components/schemas/Peer" },
            "self": { "allOf": [{ "$ref": "#/components/schemas/Node" }] }
        } });
        if extra {
            node["properties"]["label"] = json!({ "type": "string" });
        }
        json!({
            "Node": node,
            "Peer": { "type": "object", "properties": { "back": { "$ref": "#/components/schemas/Node" } } },
            "Loop": { "allOf": [{ "$ref": "#/components/schemas/Loop" }] },
        })
    };
    let resp = json!({ "type": "object", "properties": {
        "root": { "$ref": "#/components/schemas/Node" },
        "loop": { "$ref": "#/components/schemas/Loop" }
    } });
    let paths = post(
        json!([]),
        json!({ "$ref": "#/components/schemas/Node" }),
        resp,
    );
    let old = set(paths.clone(), schemas(false));
    let new = set(paths, schemas(true));
    assert!(diff(&old, &old).is_empty());
    let d = diff(&old, &new);
    let msgs: Vec<String> = the_changes(&d).into_iter().map(|c| c.message).collect();
    assert!(
        msgs.contains(&"request body: property `label` added (optional)".to_owned()),
        "{msgs:?}"
    );
    assert!(
        msgs.contains(&"response 201: property `root.label` added (optional)".to_owned()),
        "{msgs:?}"
    );
}

#[test]
fn one_of_variants_match_by_schema_name() {
    let schemas = json!({ "A": obj(json!({ "a": { "type": "string" } }), &[]), "B": obj(json!({ "b": { "type": "string" } }), &[]) });
    let with = |refs: &[&str]| {
        let vs: Vec<Value> = refs
            .iter()
            .map(|r| json!({ "$ref": format!("#/components/schemas/{r}") }))
            .collect();
        set(
            post(
                json!([]),
                obj(json!({ "p": { "oneOf": vs } }), &[]),
                json!({}),
            ),
            schemas.clone(),
        )
    };
    assert_eq!(
        one_change(&with(&["A"]), &with(&["A", "B"])),
        (false, "request body: variant `p<B>` added".to_owned())
    );
    assert_eq!(
        one_change(&with(&["A", "B"]), &with(&["B"])),
        (true, "request body: variant `p<A>` removed".to_owned())
    );
}

#[test]
fn modules_added_and_removed() {
    let doc = |id: &str| json!({ "paths": { format!("/{id}"): { "get": simple_op(id) } } });
    let old = ModuleDocs::from([("a".to_owned(), doc("a")), ("gone".to_owned(), doc("gone"))]);
    let new = ModuleDocs::from([
        ("a".to_owned(), doc("a")),
        ("fresh".to_owned(), doc("fresh")),
    ]);
    let d = diff(&old, &new);
    assert_eq!(d.modules_added.keys().collect::<Vec<_>>(), ["fresh"]);
    assert_eq!(d.modules_removed.keys().collect::<Vec<_>>(), ["gone"]);
    assert!(d.modules.is_empty());
    assert_eq!(d.breaking_count(), 1);
    assert_eq!(
        d.summary(),
        "1 modules added (1 operations), 1 removed (1 operations); 0 operations added, 0 removed, 0 moved, 0 changed (0 breaking); 1 breaking in total"
    );
    assert!(
        d.to_string()
            .contains("\n- module gone (1 operations) [BREAKING]\n  - GET /gone (gone)\n")
    );
}

#[test]
fn error_responses_are_ignored() {
    let op = |err: Value| {
        json!({ "/a": { "get": { "operationId": "a", "responses": {
        "200": { "description": "ok" }, "422": err } } } })
    };
    let old = set(op(json!({ "description": "x" })), json!({}));
    let new = set(
        op(
            json!({ "description": "y", "content": { "application/json": { "schema": { "type": "object" } } } }),
        ),
        json!({}),
    );
    assert!(diff(&old, &new).is_empty());
}

// ---- the real specs --------------------------------------------------------------------

const SEP_2025: &str = "5f8673c820917a063275d2760072496a4a4a0aaa";
const MAY_2026: &str = "d9cbcd5adb6df45c3efcfd09155592312e1ca4b5";
const JUN_2026: &str = "0af86a4cbd48c66a4071c7e509d1079f9f10ed17";

/// Every top-level `apps/*.json` of a commit, through the spec cache (a test fails when the
/// commit's tree cannot be had).
fn load(commit: &str) -> Option<ModuleDocs> {
    let dir = crate::specs::test_copy(commit).join("apps");
    let entries = std::fs::read_dir(&dir).expect("the cached tree has apps/");
    let mut out = ModuleDocs::new();
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).expect("read spec");
            let stem = path
                .file_stem()
                .expect("stem")
                .to_string_lossy()
                .into_owned();
            out.insert(stem, serde_json::from_str(&text).expect("spec is JSON"));
        }
    }
    Some(out)
}

fn load_pair(old: &str, new: &str) -> Option<(ModuleDocs, ModuleDocs)> {
    load(old).zip(load(new))
}

#[test]
fn real_specs_may_to_june_2026() {
    let Some((old, new)) = load_pair(MAY_2026, JUN_2026) else {
        return;
    };
    assert_eq!((old.len(), new.len()), (41, 41));
    let d = diff(&old, &new);
    println!("{}", d.summary());
    assert!(d.modules_added.is_empty() && d.modules_removed.is_empty());
    // Only voice-ai.json differs: its two voice-catalogue operations were dropped.
    assert_eq!(d.modules.keys().collect::<Vec<_>>(), ["voice-ai"]);
    let removed: Vec<String> = d.modules["voice-ai"]
        .removed
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        removed,
        [
            "GET /voice-ai/voices (get-voices)",
            "GET /voice-ai/voices/{voiceId} (get-voice)"
        ]
    );
    assert_eq!(
        (
            d.operations_added(),
            d.operations_moved(),
            d.operations_changed()
        ),
        (0, 0, 0)
    );
    assert_eq!(d.breaking_count(), 2);
}

#[test]
fn real_specs_september_2025_to_june_2026() {
    let Some((old, new)) = load_pair(SEP_2025, JUN_2026) else {
        return;
    };
    assert_eq!(old.len(), 36);
    let d = diff(&old, &new);
    println!("{}", d.summary());
    let added: Vec<(&str, usize)> = d
        .modules_added
        .iter()
        .map(|(k, v)| (k.as_str(), v.len()))
        .collect();
    assert_eq!(
        added,
        [
            ("ad-manager", 94),
            ("affiliate-manager", 4),
            ("agent-studio", 11),
            ("brand-boards", 5),
            ("conversation-ai", 12),
            ("knowledge-base", 14)
        ]
    );
    // agencies.json had an empty `paths` object and is gone.
    assert_eq!(
        d.modules_removed
            .iter()
            .map(|(k, v)| (k.as_str(), v.len()))
            .collect::<Vec<_>>(),
        [("agencies", 0)]
    );
    assert_eq!(
        (
            d.operations_added(),
            d.operations_removed(),
            d.operations_moved()
        ),
        (27, 0, 0)
    );
    // Verified with an independent script: 76 operations at unchanged routes differ once
    // descriptions, examples, operationIds and error responses are set aside.
    assert_eq!(d.operations_changed(), 76);
    let calendars = &d.modules["calendars"];
    assert!(
        calendars
            .added
            .iter()
            .any(|o| o.to_string() == "POST /calendars/schedules (createSchedule)")
    );

    let changes_of = |module: &str, route: &str| -> Vec<Change> {
        let m = &d.modules[module];
        m.changed
            .iter()
            .find(|c| c.new.route() == route)
            .map(|c| c.changes.clone())
            .unwrap_or_default()
    };
    let charge = changes_of("marketplace", "POST /marketplace/billing/charges");
    assert_eq!(
        charge,
        [Change {
            breaking: true,
            message: "request body `units`: type string -> number".into()
        }]
    );
    // Upstream dropped the declaration of the `{type}` placeholder's parameter.
    let tags = changes_of("contacts", "POST /contacts/bulk/tags/update/{type}");
    assert_eq!(
        tags,
        [Change {
            breaking: true,
            message: "param path `type` removed".into()
        }]
    );
    let report = d.to_string();
    assert!(report.lines().count() > 400);
    assert_eq!(report, diff(&old, &new).to_string(), "deterministic");
}
