//! Extracts every JSON example of the API documents into `fixtures/api/`, so
//! that tests check the wire format against the documents without reading
//! anything outside this repository.
//!
//! The documents are reStructuredText (the 2016-08 one lost its indentation
//! when it was copied from a web page). Each example is a JSON block after a
//! bold role heading (`**REST Request**`, `**WebSocket Response**`, ...);
//! REST requests are `PUT /sysadm/iocage` followed by the JSON body.
//!
//! Some headings are wrong (in Clean Releases the WebSocket request and the
//! response stand under a second `**REST Request**`), so every example is
//! classified by its content, and a heading only has to agree with it.
//!
//! Output: `fixtures/api/<document>/<section>[-<n>].<role>.json`, where `n`
//! numbers the examples of a section that has several (one REST request each)
//! and `role` is `rest-request`, `rest-response`, `websocket-request`,
//! `websocket-response`, or `response` (the documents' generic heading for a
//! WebSocket reply). Keys are sorted and indented by two spaces, so
//! regenerating gives the same bytes.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Map, Value};

/// The documents, by the folder their examples go to.
const DOCUMENTS: [(&str, &str); 2] = [
    ("2016-08", "iocage-api-2016-08.txt"),
    ("2017-05", "iocage-api-2017-05.rst"),
];

/// How many JSON examples each document holds. A different number means the
/// extractor missed or invented one.
const EXAMPLES_PER_DOCUMENT: usize = 73;

/// The only request line the documents use for REST.
const REST_REQUEST_LINE: &str = "PUT /sysadm/iocage";

pub(crate) fn regenerate(root: &Path) -> Result<()> {
    let spec = root.join("..").join("shared").join("spec");
    let out = root.join("fixtures").join("api");
    for (folder, file) in DOCUMENTS {
        let path = spec.join(file);
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let examples = extract(&text).with_context(|| format!("extracting {}", path.display()))?;
        ensure!(
            examples.len() == EXAMPLES_PER_DOCUMENT,
            "{} holds {} JSON examples, expected {EXAMPLES_PER_DOCUMENT}: the extractor or the document changed",
            path.display(),
            examples.len()
        );
        let named = name(&examples).with_context(|| format!("naming {}", path.display()))?;

        let dir = out.join(folder);
        if dir.exists() {
            // Start empty so that a renamed example leaves no stale file.
            fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for (file_name, value) in &named {
            let mut json = serde_json::to_string_pretty(&sorted(value))?;
            json.push('\n');
            let target = dir.join(file_name);
            fs::write(&target, json).with_context(|| format!("writing {}", target.display()))?;
        }
        eprintln!(
            "{}: {} examples -> {}",
            file,
            named.len(),
            dir.strip_prefix(root).unwrap_or(&dir).display()
        );
    }
    Ok(())
}

/// One JSON block of a document, with what the text around it says.
#[derive(Debug)]
struct Example {
    /// The title of the section it stands in.
    section: String,
    /// The bold headings between the previous example and this one.
    headings: Vec<String>,
    /// Whether the block follows `PUT /sysadm/iocage`.
    after_request_line: bool,
    /// The 1-based line of the opening brace, for messages.
    line: usize,
    /// The parsed block.
    value: Value,
}

/// The role headings the documents use.
const HEADINGS: [&str; 5] = [
    "REST Request",
    "REST Response",
    "WebSocket Request",
    "WebSocket Response",
    "Response",
];

fn extract(text: &str) -> Result<Vec<Example>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut examples = Vec::new();
    let mut section: Option<String> = None;
    let mut headings = Vec::new();
    let mut request_line: Option<usize> = None;
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index].trim();
        if is_underline(line, '=') && index > 0 && !lines[index - 1].trim().is_empty() {
            section = Some(lines[index - 1].trim().to_owned());
            headings.clear();
            request_line = None;
        } else if let Some(heading) = line
            .strip_prefix("**")
            .and_then(|rest| rest.strip_suffix("**"))
            .filter(|heading| HEADINGS.contains(heading))
        {
            headings.push(heading.to_owned());
        } else if line.starts_with("PUT ") || line.starts_with("GET ") || line.starts_with("POST ")
        {
            ensure!(
                line == REST_REQUEST_LINE,
                "line {}: unexpected request line '{line}', expected '{REST_REQUEST_LINE}'",
                index + 1
            );
            request_line = Some(index);
        } else if line == "{" {
            let Some(section) = section.clone() else {
                bail!(
                    "line {}: a JSON example before the first section",
                    index + 1
                );
            };
            let end = block_end(&lines, index)?;
            let block = lines[index..=end].join("\n");
            let value: Value = serde_json::from_str(&block)
                .with_context(|| format!("line {}: the example is not valid JSON", index + 1))?;
            // The body must follow its request line, with nothing but blanks between.
            let after_request_line = request_line.is_some_and(|put| {
                lines[put + 1..index]
                    .iter()
                    .all(|line| line.trim().is_empty())
            });
            examples.push(Example {
                section,
                headings: std::mem::take(&mut headings),
                after_request_line,
                line: index + 1,
                value,
            });
            request_line = None;
            index = end + 1;
            continue;
        } else if line.starts_with('{') {
            // Every example in the documents opens with a lone brace; anything
            // else would be an example this extractor misses.
            bail!(
                "line {}: '{line}' looks like JSON but does not open with a lone '{{'",
                index + 1
            );
        }
        index += 1;
    }
    Ok(examples)
}

/// Whether `line` is a reStructuredText underline made of `mark`.
fn is_underline(line: &str, mark: char) -> bool {
    line.len() >= 3 && line.chars().all(|c| c == mark)
}

/// The index of the line that closes the JSON block opened at `start`,
/// counting braces and brackets outside strings.
fn block_end(lines: &[&str], start: usize) -> Result<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (index, line) in lines.iter().enumerate().skip(start) {
        for c in line.chars() {
            if in_string {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '"' => in_string = true,
                '{' | '[' => depth += 1,
                '}' | ']' => {
                    depth = depth
                        .checked_sub(1)
                        .with_context(|| format!("line {}: unbalanced '{c}'", index + 1))?;
                }
                _ => {}
            }
        }
        if depth == 0 {
            return Ok(index);
        }
    }
    bail!("line {}: the JSON example never closes", start + 1)
}

/// What an example is, judged by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A bare args object with `action`.
    RestRequest,
    /// `{"args": {"<action>": ...}}` and nothing else.
    RestResponse,
    /// An envelope with namespace, name and args holding `action`.
    WebSocketRequest,
    /// An envelope named `response` whose args hold `{"<action>": ...}`.
    WebSocketResponse,
}

impl Kind {
    /// Whether a heading agrees with this content.
    fn agrees_with(self, heading: &str) -> bool {
        match self {
            Kind::RestRequest => heading == "REST Request",
            Kind::RestResponse => heading == "REST Response",
            Kind::WebSocketRequest => heading == "WebSocket Request",
            Kind::WebSocketResponse => heading == "WebSocket Response" || heading == "Response",
        }
    }
}

fn classify(value: &Value) -> Result<Kind> {
    let Some(object) = value.as_object() else {
        bail!("the example is not a JSON object");
    };
    let is_envelope = ["namespace", "name", "id", "args"]
        .iter()
        .all(|key| object.contains_key(*key));
    if is_envelope {
        let args = &object["args"];
        if object["name"] == "response" {
            single_action_result(args)?;
            return Ok(Kind::WebSocketResponse);
        }
        ensure!(
            args.get("action").is_some_and(Value::is_string),
            "a WebSocket request whose args have no action"
        );
        return Ok(Kind::WebSocketRequest);
    }
    if object.get("action").is_some_and(Value::is_string) {
        return Ok(Kind::RestRequest);
    }
    if object.len() == 1
        && let Some(args) = object.get("args")
    {
        single_action_result(args)?;
        return Ok(Kind::RestResponse);
    }
    bail!(
        "neither a request nor a response: keys {:?}",
        object.keys().collect::<Vec<_>>()
    )
}

/// Checks that a response's `args` is `{"<action>": ...}`.
fn single_action_result(args: &Value) -> Result<()> {
    ensure!(
        args.as_object().is_some_and(|result| result.len() == 1),
        "a response whose args are not {{\"<action>\": ...}}"
    );
    Ok(())
}

/// Gives every example its file name, checking it against its headings.
fn name(examples: &[Example]) -> Result<Vec<(String, &Value)>> {
    // Per section: the kind and example number of each example.
    let mut sections: BTreeMap<&str, Vec<(usize, Kind, usize)>> = BTreeMap::new();
    for (position, example) in examples.iter().enumerate() {
        let kind = classify(&example.value).with_context(|| format!("line {}", example.line))?;
        ensure!(
            (kind == Kind::RestRequest) == example.after_request_line,
            "line {}: a {kind:?} must follow '{REST_REQUEST_LINE}' exactly when it is a REST request",
            example.line
        );
        ensure!(
            example
                .headings
                .iter()
                .any(|heading| kind.agrees_with(heading)),
            "line {}: no heading of {:?} agrees with the content, a {kind:?}",
            example.line,
            example.headings
        );
        if let Some(last) = example.headings.last()
            && !kind.agrees_with(last)
        {
            eprintln!(
                "note: {} line {}: heading '{last}' is wrong, classified as {kind:?} by content",
                example.section, example.line
            );
        }
        let in_section = sections.entry(example.section.as_str()).or_default();
        let previous = in_section.last().map_or(0, |(_, _, number)| *number);
        // Each example of a section starts with its REST request.
        let number = if kind == Kind::RestRequest || previous == 0 {
            previous + 1
        } else {
            previous
        };
        in_section.push((position, kind, number));
    }

    let mut named = Vec::with_capacity(examples.len());
    let mut seen = BTreeMap::new();
    for (section, entries) in &sections {
        let several = entries.iter().any(|(_, _, number)| *number > 1);
        for (position, kind, number) in entries {
            let example = &examples[*position];
            let role = match kind {
                Kind::RestRequest => "rest-request",
                Kind::RestResponse => "rest-response",
                Kind::WebSocketRequest => "websocket-request",
                Kind::WebSocketResponse
                    if example
                        .headings
                        .iter()
                        .any(|heading| heading == "WebSocket Response") =>
                {
                    "websocket-response"
                }
                Kind::WebSocketResponse => "response",
            };
            let stem = if several {
                format!("{}-{number}", slug(section))
            } else {
                slug(section)
            };
            let file_name = format!("{stem}.{role}.json");
            if let Some(other) = seen.insert(file_name.clone(), example.line) {
                bail!(
                    "lines {other} and {}: two examples would both be {file_name}",
                    example.line
                );
            }
            named.push((file_name, &example.value));
        }
    }
    Ok(named)
}

/// `List Jails` -> `list-jails`.
fn slug(title: &str) -> String {
    title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join("-")
}

/// The value with every object's keys in sorted order, whatever map type
/// serde_json was built with.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for key in keys {
                out.insert(key.clone(), sorted(&object[key]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}
