{#- Raw tables only have the columns their loader guarantees, plus the ones Intercom has sent so
    far: dlt creates an undeclared column with its first non-null value. Staging therefore selects
    every column it needs through `typed_columns`, which casts a present column, and tells the
    two kinds of column apart:

    - required (the default): a column the loader always creates. For intercom_raw, workspace_id
      and the columns declared with a type in `COLUMNS` (intercom_pipeline/sources/intercom/
      settings.py): dlt creates them with the table, and `ensure_raw_tables` creates them in a
      table that never received a row. A required column the table lacks is a misspelling or a
      rename, so the build stops naming the table, the column and the fix, instead of reading
      nulls forever.
    - optional (marked `'optional'`): every other column. While the table lacks it, it reads as
      a typed null, so a workspace that never used a feature still builds.

    tests/unit/test_dbt_conventions.py checks that required means guaranteed (and the reverse);
    tests/integration/test_raw_sources.py builds staging on the guaranteed columns alone. -#}

{#- The lower-cased column names of `relation`; empty when it does not exist (or at parse). -#}
{% macro existing_columns(relation) -%}
    {%- set names = [] -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- do names.append(column.name | lower) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(names) }}
{%- endmacro %}

{#- Where each raw schema's guaranteed columns are declared, for the error message. -#}
{% macro guaranteed_columns_declared_in(schema) -%}
    {%- set places = {
        'intercom_raw': 'workspace_id and COLUMNS in intercom_pipeline/sources/intercom/settings.py',
        'survey_feed_raw': 'COLUMN_TYPES in intercom_pipeline/sources/survey_feed/__init__.py',
        'surveys': 'the table definition in intercom_pipeline/activation/surveys/log.py',
    } -%}
    {{ return(places.get(schema | lower, "the loader's declared columns")) }}
{%- endmacro %}

{#- specs: one list per column, [raw_name, type] or [raw_name, type, alias], followed by
    'optional' when the raw table may lack the column:
        ['id', 'varchar', 'admin_id'],                  -- required
        ['email', 'varchar', 'optional'],               -- optional
        ['name', 'varchar', 'admin_name', 'optional'],  -- optional, renamed
    The type `utc` casts a timestamp with time zone to a UTC timestamp.

    When the relation does not exist (an optional source, see `from_optional_source`), every
    column is a typed null: the model reads no rows from it. -#}
{% macro typed_columns(relation, specs) -%}
    {%- set present = existing_columns(relation) -%}
    {%- set columns = [] -%}
    {%- for spec in specs -%}
        {%- set is_optional = spec | length > 2 and spec[-1] == 'optional' -%}
        {%- set parts = spec[:-1] if is_optional else spec -%}
        {%- set name, data_type = parts[0], parts[1] -%}
        {%- do columns.append({
            'name': name,
            'data_type': data_type,
            'alias': parts[2] if parts | length > 2 else name,
            'is_optional': is_optional,
            'is_present': name | lower in present,
            'spec': parts,
        }) -%}
    {%- endfor -%}

    {%- set missing = columns | rejectattr('is_optional') | rejectattr('is_present') | list -%}
    {%- if present and missing -%}
        {%- set table = relation.schema ~ '.' ~ relation.identifier -%}
        {%- set names = '"' ~ missing | map(attribute='name') | join('", "') ~ '"' -%}
        {%- set first = missing[0] -%}
        {%- set quoted = [] -%}
        {%- for item in first.spec + ['optional'] -%}
            {%- do quoted.append("'" ~ item ~ "'") -%}
        {%- endfor -%}
        {%- do exceptions.raise_compiler_error(
            "typed_columns: " ~ table ~ " has no column " ~ names ~ ", which this model requires. "
            ~ "A required column is one the loader always creates ("
            ~ guaranteed_columns_declared_in(relation.schema) ~ "), so this is a misspelled or "
            ~ "renamed column. Fix: correct its name in the model's typed_columns spec to one of "
            ~ table ~ "'s columns (" ~ present | join(', ') ~ "); or, if the source may not have "
            ~ "sent it yet, mark it optional so it reads as null while absent: ["
            ~ quoted | join(', ') ~ "]."
        ) -%}
    {%- endif -%}

    {%- for column in columns %}
        {%- set sql_type = 'timestamptz' if column.data_type == 'utc' else column.data_type -%}
        {%- set value = adapter.quote(column.name) if column.is_present else 'null' -%}
        {%- if column.data_type == 'utc' %}
        timezone('UTC', cast({{ value }} as timestamptz)) as {{ column.alias }}
        {%- else %}
        cast({{ value }} as {{ sql_type }}) as {{ column.alias }}
        {%- endif -%}
        {{- "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
