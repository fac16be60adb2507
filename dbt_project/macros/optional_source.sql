{#- `from` for a source table that a feature creates on its first run (e.g. the survey request
    log): the table when it exists, otherwise an empty row set, so the models build before the
    feature is ever used. Calling source() keeps the lineage either way. -#}
{% macro from_optional_source(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and load_relation(relation) is none -%}
        (select 1 as no_rows where false) as {{ table_name }}
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}
