{#- Custom schemas are used as written (`staging`, `analytics`), not prefixed with the target's
    schema, so BI users find the marts in `analytics` whatever the profile says. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}
