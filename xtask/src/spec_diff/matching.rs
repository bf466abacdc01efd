//! Which operation of the old document is which of the new: the same route, else the same
//! operationId, else a path that only renamed its placeholders.

use std::collections::BTreeMap;

use serde_json::Value;

use super::compare::compare_operations;
use super::{ChangedOperation, ModuleDiff, Operation};
use crate::openapi;

/// An operation in a document, with what is needed to compare it.
pub(super) struct OpIn<'a> {
    pub(super) op: Operation,
    pub(super) body: &'a Value,
    /// Path-item level `parameters`, inherited by the operation.
    pub(super) shared_params: Option<&'a Value>,
}

pub(super) type OpKey = (String, String);

pub(super) fn operations(doc: &Value) -> BTreeMap<OpKey, OpIn<'_>> {
    openapi::operations(doc)
        .map(|(path, method, body)| {
            let op = Operation::at(path, method, body);
            let shared_params = doc.pointer(&format!(
                "/paths/{}/parameters",
                openapi::pointer_token(path)
            ));
            let key = (path.to_owned(), method.to_owned());
            (
                key,
                OpIn {
                    op,
                    body,
                    shared_params,
                },
            )
        })
        .collect()
}

pub(super) fn diff_module(old_doc: &Value, new_doc: &Value) -> ModuleDiff {
    let old_ops = operations(old_doc);
    let new_ops = operations(new_doc);
    let mut m = ModuleDiff::default();
    for (key, o) in &old_ops {
        if let Some(n) = new_ops.get(key) {
            let changes = compare_operations(old_doc, o, new_doc, n);
            if !changes.is_empty() {
                m.changed.push(ChangedOperation {
                    old: o.op.clone(),
                    new: n.op.clone(),
                    changes,
                });
            }
        }
    }

    let mut removed: Vec<&OpKey> = old_ops
        .keys()
        .filter(|k| !new_ops.contains_key(*k))
        .collect();
    let mut added: Vec<&OpKey> = new_ops
        .keys()
        .filter(|k| !old_ops.contains_key(*k))
        .collect();
    let mut pairs: Vec<(&OpKey, &OpKey)> = Vec::new();
    // Pass 1: the same operationId, unique among the removed and among the added operations.
    let id_of = |ops: &BTreeMap<OpKey, OpIn<'_>>, k: &OpKey| ops[k].op.operation_id.clone();
    let unique = |ops: &BTreeMap<OpKey, OpIn<'_>>, keys: &[&OpKey], id: &str| {
        keys.iter()
            .filter(|k| id_of(ops, k).as_deref() == Some(id))
            .count()
            == 1
    };
    for r in &removed {
        let Some(id) = id_of(&old_ops, r) else {
            continue;
        };
        if !unique(&old_ops, &removed, &id) || !unique(&new_ops, &added, &id) {
            continue;
        }
        if let Some(a) = added
            .iter()
            .find(|a| id_of(&new_ops, a).as_deref() == Some(id.as_str()))
        {
            pairs.push((r, a));
        }
    }
    removed.retain(|r| !pairs.iter().any(|(pr, _)| pr == r));
    added.retain(|a| !pairs.iter().any(|(_, pa)| pa == a));
    // Pass 2: same method, and a path that differs only in placeholder names.
    let mut pass2 = Vec::new();
    for r in &removed {
        let shape = template_shape(&r.0);
        let candidates: Vec<&&OpKey> = added
            .iter()
            .filter(|a| a.1 == r.1 && template_shape(&a.0) == shape)
            .collect();
        let rivals = removed
            .iter()
            .filter(|o| o.1 == r.1 && template_shape(&o.0) == shape)
            .count();
        if let [a] = candidates.as_slice()
            && rivals == 1
        {
            pass2.push((*r, **a));
        }
    }
    removed.retain(|r| !pass2.iter().any(|(pr, _)| pr == r));
    added.retain(|a| !pass2.iter().any(|(_, pa)| pa == a));
    pairs.extend(pass2);

    for (r, a) in pairs {
        let (o, n) = (&old_ops[r], &new_ops[a]);
        let changes = compare_operations(old_doc, o, new_doc, n);
        m.moved.push(ChangedOperation {
            old: o.op.clone(),
            new: n.op.clone(),
            changes,
        });
    }
    m.moved.sort_by(|a, b| a.old.cmp(&b.old));
    m.added = added.into_iter().map(|k| new_ops[k].op.clone()).collect();
    m.removed = removed.into_iter().map(|k| old_ops[k].op.clone()).collect();
    m
}

/// `/contacts/{contactId}/notes` -> `/contacts/{}/notes`.
fn template_shape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => {
                inside = true;
                out.push('{');
            }
            '}' => {
                inside = false;
                out.push('}');
            }
            _ if inside => {}
            _ => out.push(c),
        }
    }
    out
}
