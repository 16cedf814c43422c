//! Output for people: a result's JSON as aligned columns. The shape decides
//! the layout, so every action (and `call`) gets one without knowing it:
//! rows keyed by id (listjails, df, plugins) become a table, lists become
//! lines, flat objects become `key  value` pairs, anything else pretty JSON.

use serde_json::{Map, Value};

/// Renders one result (the reply's `args`) for a terminal.
pub(crate) fn human(value: &Value) -> String {
    // `{"listjails": {...}}`: the action's name is no news to the one who asked.
    let inner = match value {
        Value::Object(object) if object.len() == 1 => object.values().next().unwrap_or(value),
        _ => value,
    };
    match inner {
        Value::Object(object) if object.is_empty() => "(none)\n".to_owned(),
        // Status lines (startjail, execjail): keys with empty values.
        Value::Object(object) if object.values().all(is_lines) => object
            .values()
            .filter_map(Value::as_object)
            .flat_map(Map::keys)
            .map(|line| format!("{line}\n"))
            .collect(),
        Value::Object(object) if object.values().all(is_row) => rows(object),
        Value::Object(object)
            if object
                .values()
                .all(|value| is_scalar_or_list(value) || is_row(value)) =>
        {
            pairs(object)
        }
        Value::Array(items) if items.iter().all(is_scalar) => lines(items),
        Value::String(text) => format!("{text}\n"),
        other => format!(
            "{}\n",
            serde_json::to_string_pretty(other).unwrap_or_default()
        ),
    }
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Object(_) | Value::Array(_))
}

fn is_scalar_or_list(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().all(is_scalar),
        other => is_scalar(other),
    }
}

fn is_lines(value: &Value) -> bool {
    matches!(value, Value::Object(fields) if !fields.is_empty() && fields.values().all(|field| field == ""))
}

fn is_row(value: &Value) -> bool {
    matches!(value, Value::Object(fields) if fields.values().all(is_scalar))
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// A table: the key first (`ID`), then every field any row has, `tag` first.
fn rows(object: &Map<String, Value>) -> String {
    let mut columns: Vec<String> = Vec::new();
    for row in object.values() {
        for key in row.as_object().into_iter().flat_map(Map::keys) {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    columns.sort_by_key(|column| (column != "tag", column.clone()));
    let mut table = vec![
        std::iter::once("ID".to_owned())
            .chain(columns.iter().map(|column| column.to_ascii_uppercase()))
            .collect::<Vec<_>>(),
    ];
    for (id, row) in object {
        let mut line = vec![id.clone()];
        line.extend(
            columns
                .iter()
                .map(|column| row.get(column).map_or("-".to_owned(), text)),
        );
        table.push(line);
    }
    aligned(&table)
}

/// `key  value` lines; a nested flat object (createjail's `success`) gives its own pairs.
fn pairs(object: &Map<String, Value>) -> String {
    let mut table: Vec<Vec<String>> = Vec::new();
    for (key, value) in object {
        match value {
            Value::Array(items) => {
                table.push(vec![
                    key.clone(),
                    items.iter().map(text).collect::<Vec<_>>().join(" "),
                ]);
            }
            Value::Object(inner) => {
                for (key, value) in inner {
                    table.push(vec![key.clone(), text(value).trim().to_owned()]);
                }
            }
            other => table.push(vec![key.clone(), text(other)]),
        }
    }
    aligned(&table)
}

fn lines(items: &[Value]) -> String {
    items
        .iter()
        .map(|item| format!("{}\n", text(item)))
        .collect()
}

/// Columns padded to their widest cell (in characters), two spaces apart.
pub(crate) fn aligned(table: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in table {
        for (index, cell) in row.iter().enumerate() {
            let width = cell.chars().count();
            match widths.get_mut(index) {
                Some(known) => *known = (*known).max(width),
                None => widths.push(width),
            }
        }
    }
    let mut out = String::new();
    for row in table {
        let mut line = String::new();
        for (index, cell) in row.iter().enumerate() {
            line.push_str(cell);
            let pad = widths[index] - cell.chars().count() + 2;
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_keyed_by_id_become_an_aligned_table_with_the_tag_first() {
        let listing = json!({"listjails": {
            "0a1b": {"boot": "off", "jid": "-", "state": "down", "tag": "web1", "type": "basejail"},
            "ffee": {"boot": "on", "jid": "12", "state": "up", "tag": "database", "type": "basejail"},
        }});
        assert_eq!(
            human(&listing),
            "ID    TAG       BOOT  JID  STATE  TYPE\n\
             0a1b  web1      off   -    down   basejail\n\
             ffee  database  on    12   up     basejail\n"
        );
    }

    #[test]
    fn flat_objects_become_pairs_lists_become_lines() {
        assert_eq!(
            human(
                &json!({"listreleases": {"local": ["10.2-RELEASE"], "remote": ["10.3-RELEASE", "11.0-RELEASE"]}})
            ),
            "local   10.2-RELEASE\nremote  10.3-RELEASE 11.0-RELEASE\n"
        );
        assert_eq!(human(&json!(["a", "b"])), "a\nb\n");
        assert_eq!(
            human(&json!({"startjail": {"web1": {"* Starting web1": "", "+ Started OK": ""}}})),
            "* Starting web1\n+ Started OK\n"
        );
        assert_eq!(
            human(
                &json!({"createjail": {"props": "tag=a", "success": {"Successfully created": " 0a (a)"}, "switches": ""}})
            ),
            "props                 tag=a\nSuccessfully created  0a (a)\nswitches\n"
        );
        assert_eq!(human(&json!({"listjails": {}})), "(none)\n");
    }
}
