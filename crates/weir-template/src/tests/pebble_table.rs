//! Pebble expressions with the outputs Kestra's and Pebble's documentation give for them.
//!
//! Every expected value is quoted from the page named above its group, not from what weir
//! prints. Lists and maps are written as Kestra prints them (JSON, through its `JsonWriter`);
//! the docs' comments write them the way Java's `toString` would (`[foo, baz]`). Where a doc
//! example spans lines, its whitespace is folded. A row weir still gets wrong asserts today's
//! output (an error prints as `error: <message>`) under a `FIXME` saying what Kestra gives.

use serde_json::{Value as Json, json};

use super::setup;

/// The variables the documented examples refer to.
fn context() -> Json {
    json!({
        "inputs": {
            // kestra.io/docs/concepts/expression/filter/json: "Manipulating JSON payload".
            "payload": {
                "name": "John Doe",
                "score": {"English": 72, "Maths": 88, "French": 95, "Spanish": 85, "Science": 91},
                "address": {"city": "Paris", "country": "France"},
                "graduation_years": [2020, 2021, 2022, 2023]
            },
            // kestra.io/docs/how-to-guides/null-values.
            "optional_input": null,
            // kestra.io/docs/concepts/expression/function: "String concatenation".
            "date": "2024-02-24T22:00:00.000Z",
            "user": "Rick",
            // kestra.io/docs/concepts/expression/filter/string: escapeChar.
            "param": "Can't be here",
            // kestra.io/docs/concepts/expression/filter/string: startsWith.
            "myvalue": "hello world!"
        },
        "vars": {
            "day_of_week": "{{ trigger.date ?? inputs.date | date('EEEE') }}",
            "full_date": "{{ vars.day_of_week }}, the {{ trigger.date ?? inputs.date | date('yyyy-MM-dd') }}",
            "full_date_concat": "{{ vars.day_of_week ~ ', the ' ~ (trigger.date ?? inputs.date | date('yyyy-MM-dd')) }}",
            "greeting_concat": "{{'Hello, ' ~ inputs.user ~ ' on ' ~ vars.full_date }}",
            "greeting_brackets": "Hello, {{ inputs.user }} on {{ vars.full_date }}"
        },
        // kestra.io/docs/concepts/expression/filter/json: jq.
        "outputs": {
            "task1": {"value": 1, "text": "awesome1"},
            "task2": {"value": 2, "text": "awesome2"}
        },
        // kestra.io/docs/concepts/expression/filter/object: join.
        "names": ["Alex", "Joe", "Bob"]
    })
}

/// `(template, what Kestra prints)`.
const ROWS: &[(&str, &str)] = &[
    // kestra.io/docs/expressions/filters/collections
    ("{{ -7 | abs }}", "7"),
    // FIXME: Kestra gives `java.lang.Float`; weir has no `className` (no Java classes).
    (
        "{{ \"12.3\" | number | className }}",
        "error: unknown filter `className`",
    ),
    // FIXME: Kestra gives `java.math.BigDecimal`.
    (
        "{{ \"9223372036854775807\" | number('BIGDECIMAL') | className }}",
        "error: unknown filter `className`",
    ),
    ("{{ 3.141592653 | numberFormat(\"#.##\") }}", "3.14"),
    ("{{ ['apple', 'banana', 'cherry'] | first }}", "apple"),
    ("{{ ['apple', 'banana', 'cherry'] | last }}", "cherry"),
    ("{{ 'Kestra' | first }}", "K"),
    ("{{ 'Kestra' | last }}", "a"),
    ("{{ ['apple', 'banana'] | length }}", "2"),
    ("{{ 'Kestra' | length }}", "6"),
    (
        "{{ ['apple', 'banana', 'cherry'] | join(', ') }}",
        "apple, banana, cherry",
    ),
    (
        "{{ 'apple,banana,cherry' | split(',') }}",
        r#"["apple","banana","cherry"]"#,
    ),
    (
        "{{ 'apple,banana,cherry,grape' | split(',', 2) }}",
        r#"["apple","banana,cherry,grape"]"#,
    ),
    ("{{ [3, 1, 2] | sort }}", "[1,2,3]"),
    ("{{ [3, 1, 2] | rsort }}", "[3,2,1]"),
    ("{{ [1, 2, 3] | reverse }}", "[3,2,1]"),
    ("{{ [1, 2, 3, 4, 5] | chunk(2) }}", "[[1,2],[3,4],[5]]"),
    ("{{ [1, 2, 2, 3, 1] | distinct }}", "[1,2,3]"),
    (
        "{{ ['apple', 'banana', 'cherry'] | slice(1, 2) }}",
        r#"["banana"]"#,
    ),
    ("{{ 'Kestra' | slice(1, 3) }}", "es"),
    ("{{ [1, 2] | merge([3, 4]) }}", "[1,2,3,4]"),
    ("{{ [[1, 2], [3, 4], [5]] | flatten }}", "[1,2,3,4,5]"),
    (
        "{{ {'foo': 'bar', 'baz': 'qux'} | keys }}",
        r#"["foo","baz"]"#,
    ),
    (
        "{{ {'foo': 'bar', 'baz': 'qux'} | values }}",
        r#"["bar","qux"]"#,
    ),
    // kestra.io/docs/concepts/expression/filter/object
    ("{{ 'Mitch' | first }}", "M"),
    ("{{ 'Mitch' | last }}", "h"),
    ("{{ names | join(',') }}", "Alex,Joe,Bob"),
    (
        "{{ {'this': 'foo', 'that': 'bar'} | keys }}",
        r#"["this","that"]"#,
    ),
    ("{{ [0, 1, 3] | keys }}", "[0,1,2]"),
    (
        "{{ ['apple', 'peach', 'pear', 'banana'] | slice(1,3) }}",
        r#"["peach","pear"]"#,
    ),
    ("{{ 'Mitchell' | slice(1,3) }}", "it"),
    (
        "{% set foo = \"one,two,three\" | split(',') %}{{ foo }}",
        r#"["one","two","three"]"#,
    ),
    (
        "{% set foo = \"one,two,three,four,five\" | split(',', 3) %}{{ foo }}",
        r#"["one","two","three,four,five"]"#,
    ),
    // pebbletemplates.io/wiki/filter/numberformat
    ("{{ 3.141592653 | numberformat(\"#.##\") }}", "3.14"),
    // kestra.io/docs/expressions/filters/strings
    ("{{ \"LOUD TEXT\" | lower }}", "loud text"),
    ("{{ \"quiet text\" | upper }}", "QUIET TEXT"),
    ("{{ \"article title\" | title }}", "Article Title"),
    ("{{ \"hello world\" | capitalize }}", "Hello world"),
    ("{{ \"  padded  \" | trim }}", "padded"),
    (
        "{{ \"this is a long sentence.\" | abbreviate(7) }}",
        "this...",
    ),
    ("{{ \"a.b.c\" | substringBefore(\".\") }}", "a"),
    ("{{ \"a.b.c\" | substringAfter(\".\") }}", "b.c"),
    ("{{ \"a.b.c\" | substringBeforeLast(\".\") }}", "a.b"),
    ("{{ \"a.b.c\" | substringAfterLast(\".\") }}", "c"),
    ("{{ \"Hello World!\" | slugify }}", "hello-world"),
    (
        "{{ \"kestra://file.csv\" | startsWith(\"kestra://\") }}",
        "true",
    ),
    ("{{ \"report.csv\" | endsWith(\".csv\") }}", "true"),
    ("{{ \"test\" | base64encode }}", "dGVzdA=="),
    ("{{ \"dGVzdA==\" | base64decode }}", "test"),
    (
        "{{ \"The string ü@foo-bar\" | urlencode }}",
        "The+string+%C3%BC%40foo-bar",
    ),
    (
        "{{ \"The+string+%C3%BC%40foo-bar\" | urldecode }}",
        "The string ü@foo-bar",
    ),
    (
        "{{ \"Can't be here\" | escapeChar('single') }}",
        "Can\\'t be here",
    ),
    // kestra.io/docs/concepts/expression/filter/string
    ("{{ \"article title\" | capitalize }}", "Article title"),
    (
        "{{ '\"Quoted\"' | escapeChar('double') }}",
        "\\\"Quoted\\\"",
    ),
    (
        "echo '{{ inputs.param | escapeChar('shell') }}'",
        "echo 'Can'\\''t be here'",
    ),
    (
        "{{ \"THIS IS A LOUD SENTENCE\" | lower }}",
        "this is a loud sentence",
    ),
    (
        "{{ \"test\" | sha256 }}",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    ),
    ("{{ \"Joel is a slug\" | slugify }}", "joel-is-a-slug"),
    ("{{ 'a.b.c' | substringAfter('.') }}", "b.c"),
    ("{{ 'a.b.c' | substringAfterLast('.') }}", "c"),
    ("{{ 'a.b.c' | substringBefore('.') }}", "a"),
    ("{{ 'a.b.c' | substringBeforeLast('.') }}", "a.b"),
    (
        "{{ \"    This text has too much whitespace.    \" | trim }}",
        "This text has too much whitespace.",
    ),
    (
        "{{ \"this is a quiet sentence.\" | upper }}",
        "THIS IS A QUIET SENTENCE.",
    ),
    // The flow's task ids, `log_true` and `log_false`, say what each prints.
    ("{{ inputs.myvalue | startsWith('hello') }}", "true"),
    ("{{ inputs.myvalue | startsWith('Hello') }}", "false"),
    // kestra.io/docs/concepts/expression/filter/json
    ("{{ [1, 2, 3] | json }}", "[1,2,3]"),
    ("{{ true | json }}", "true"),
    ("{{ \"foo\" | json }}", "\"foo\""),
    ("{{ [1, 2, 3] | jq('.[0]') | first }}", "1"),
    ("{{ outputs | jq('.task1.value') | first }}", "1"),
    (
        "Student name: {{ inputs.payload.name }}",
        "Student name: John Doe",
    ),
    (
        "Score in languages: {{ inputs.payload.score.English + inputs.payload.score.French + inputs.payload.score.Spanish }}",
        "Score in languages: 252",
    ),
    (
        "Total subjects: {{ inputs.payload.score | length }}",
        "Total subjects: 5",
    ),
    (
        "Total score: {{ inputs.payload.score | values | jq('reduce .[] as $num (0; .+$num)') | first }}",
        "Total score: 431",
    ),
    (
        "Complete address: {{ inputs.payload.address.city }}, {{ inputs.payload.address.country | upper }}",
        "Complete address: Paris, FRANCE",
    ),
    (
        "Total years for graduation: {{ inputs.payload.graduation_years | length }}",
        "Total years for graduation: 4",
    ),
    (
        "Started college in: {{ inputs.payload.graduation_years | first }}",
        "Started college in: 2020",
    ),
    // kestra.io/docs/concepts/expression/function
    ("{{ json('[1, 2, 3]')[0] }}", "1"),
    ("{{ json('{\"foo\": [666, 1, 2]}').foo[0] }}", "666"),
    (
        "{{ json('{\"bar\": \"\\u0063\\u0327\"}').bar }}",
        "c\u{327}",
    ),
    ("{{ yaml('foo: [666, 1, 2]').foo[0] }}", "666"),
    ("{% for i in range(0, 3) %}{{ i }},{% endfor %}", "0,1,2,3,"),
    (
        "{% for i in range(0, 6, 2) %}{{ i }},{% endfor %}",
        "0,2,4,6,",
    ),
    ("{% for i in 0..3 %}{{ i }},{% endfor %}", "0,1,2,3,"),
    (
        "{{ vars.greeting_concat }}",
        "{{'Hello, ' ~ inputs.user ~ ' on ' ~ vars.full_date }}",
    ),
    (
        "{{ vars.greeting_brackets }}",
        "Hello, {{ inputs.user }} on {{ vars.full_date }}",
    ),
    (
        "{{ render(vars.greeting_concat) }}",
        "Hello, Rick on Saturday, the 2024-02-24",
    ),
    (
        "{{ render(vars.greeting_brackets) }}",
        "Hello, Rick on Saturday, the 2024-02-24",
    ),
    ("{{ render(vars.full_date) }}", "Saturday, the 2024-02-24"),
    (
        "{{ render(vars.full_date_concat) }}",
        "Saturday, the 2024-02-24",
    ),
    (
        "{{ render(vars.greeting_concat, recursive=false) }}",
        "Hello, Rick on {{ vars.day_of_week }}, the {{ trigger.date ?? inputs.date | date('yyyy-MM-dd') }}",
    ),
    (
        "{{ render(vars.greeting_brackets, recursive=false) }}",
        "Hello, Rick on {{ vars.day_of_week }}, the {{ trigger.date ?? inputs.date | date('yyyy-MM-dd') }}",
    ),
    (
        "{{ render(vars.full_date, recursive=false) }}",
        "{{ trigger.date ?? inputs.date | date('EEEE') }}, the 2024-02-24",
    ),
    (
        "{{ render(vars.full_date_concat, recursive=false) }}",
        "{{ trigger.date ?? inputs.date | date('EEEE') }}, the 2024-02-24",
    ),
    // kestra.io/docs/expressions/functions/utilities
    ("{{ max(5, 10, 15) }}", "15"),
    ("{{ min(5, 10, 15) }}", "5"),
    ("{{ range(0, 3) }}", "[0,1,2,3]"),
    ("{{ range(0, 6, 2) }}", "[0,2,4,6]"),
    // kestra.io/docs/concepts/expression/operator
    ("{{ \"apple\" ~ \"pear\" ~ \"banana\" }}", "applepearbanana"),
    ("{{ 1 + 1 }}", "2"),
    ("{{ 3 - 2 }}", "1"),
    ("{{ 1 / 2 }}", "0.5"),
    ("{{ 11 % 7 }}", "4"),
    ("{{ 2 * 2 }}", "4"),
    ("{% set baz = \"baz\" %}{{ foo ?? bar ?? baz }}", "baz"),
    // The docs' `{% if … %}` examples are the true cases of each operator.
    (
        "{% if [\"apple\", \"pear\", \"banana\"] contains \"apple\" %}yes{% endif %}",
        "yes",
    ),
    (
        "{% if {\"apple\":\"red\", \"banana\":\"yellow\"} contains \"banana\" %}yes{% endif %}",
        "yes",
    ),
    (
        "{% if [\"apple\", \"pear\", \"banana\", \"peach\"] contains [\"apple\", \"peach\"] %}yes{% endif %}",
        "yes",
    ),
    ("{% if 2 is even %}yes{% endif %}", "yes"),
    ("{% if 3 is not even %}yes{% endif %}", "yes"),
    ("{% if 2 is even and 3 is odd %}yes{% endif %}", "yes"),
    // kestra.io/docs/expressions/operators-tags-tests
    (
        "{% set header = \"Welcome Page\" %}{{ header }}",
        "Welcome Page",
    ),
    ("{% filter upper %}hello{% endfilter %}", "HELLO"),
    (
        "{% filter lower | title %}hello world{% endfilter %}",
        "Hello World",
    ),
    ("{% raw %}{{ user.name }}{% endraw %}", "{{ user.name }}"),
    // FIXME: Kestra gives `type: "text", name: "country", value: ""`; Jinja refuses a
    // parameter without a default after one with a default.
    (
        "{% macro input(type=\"text\", name, value=\"\") %}type: \"{{ type }}\", name: \"{{ name }}\", value: \"{{ value }}\"{% endmacro %}{{ input(name=\"country\") }}",
        "error: syntax error: unexpected `,`, expected `=`",
    ),
    // FIXME: Kestra gives `bar`; weir has no `_context` variable.
    (
        "{% set foo = \"bar\" %}{% macro display(_context) %}{{ _context.foo }}{% endmacro %}{{ display(_context) }}",
        "error: `_context` is undefined",
    ),
    ("{% if missing is not defined %}yes{% endif %}", "yes"),
    ("{% if missing is null %}yes{% endif %}", "yes"),
    ("{{ missing is null }}", "true"),
    ("{% if '{\"test\": 1}' is json %}yes{% endif %}", "yes"),
    (
        "{% if {\"apple\": \"red\", \"banana\": \"yellow\"} is map %}yes{% endif %}",
        "yes",
    ),
    // kestra.io/docs/how-to-guides/null-values
    ("{{ inputs.optional_input ?? 'mydefault' }}", "mydefault"),
    ("{{ inputs.undefined_input ?? 'mydefault' }}", "mydefault"),
    ("{{ inputs.undefined_input ??? 'mydefault' }}", "mydefault"),
    ("{{ inputs.optional_input ??? 'mydefault' }}", ""),
    (
        "{{ (inputs.optional_input ??? 'mydefault') ?? 'other_default' }}",
        "other_default",
    ),
    // kestra.io/docs/concepts/expression/filter/temporal, and Pebble's `date` page
    (
        "{{ \"July 24, 2001\" | date(\"yyyy-MM-dd\", existingFormat=\"MMMM dd, yyyy\") }}",
        "2001-07-24",
    ),
    // "`iso` = `yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX`", the default format.
    (
        "{{ inputs.date | date('iso') }}",
        "2024-02-24T22:00:00.000000Z",
    ),
    ("{{ inputs.date | date }}", "2024-02-24T22:00:00.000000Z"),
    // "`iso_sec` = `yyyy-MM-dd'T'HH:mm:ssXXX`", "`sql` = `yyyy-MM-dd HH:mm:ss.SSSSSS`",
    // "`sql_seq` = `yyyy-MM-dd HH:mm:ss`".
    (
        "{{ inputs.date | date('iso_sec') }}",
        "2024-02-24T22:00:00Z",
    ),
    (
        "{{ inputs.date | date('sql') }}",
        "2024-02-24 22:00:00.000000",
    ),
    ("{{ inputs.date | date('sql_seq') }}", "2024-02-24 22:00:00"),
    // "the provided time zone will override the system default" (Funafuti is UTC+12).
    (
        "{{ inputs.date | date(\"yyyy-MM-dd'T'HH:mm:ssX\", timeZone=\"Pacific/Funafuti\") }}",
        "2024-02-25T10:00:00+12",
    ),
    // kestra.io/docs/concepts/expression/function: "String concatenation" (the dates above).
    ("{{ inputs.date | date('EEEE') }}", "Saturday"),
    ("{{ inputs.date | date('yyyy-MM-dd') }}", "2024-02-24"),
];

/// Renders `template` with [`context`]; an error prints as `error: <message>`.
fn check(template: &str, expected: &str) -> Result<(), String> {
    let (renderer, _) = setup();
    let ctx = context();
    let got = match renderer.render_str(template, &ctx, "company.team") {
        Ok(out) => out,
        Err(e) => format!("error: {}", e.message),
    };
    if got == expected {
        Ok(())
    } else {
        Err(format!("{template}\n    want: {expected}\n    got:  {got}"))
    }
}

#[test]
fn documented_pebble_expressions() {
    assert!(ROWS.len() >= 100, "only {} rows", ROWS.len());
    let failures: Vec<String> = ROWS
        .iter()
        .filter_map(|(template, expected)| check(template, expected).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows differ:\n{}",
        failures.len(),
        ROWS.len(),
        failures.join("\n")
    );
}
