{#- A percentage, two decimals: numerator x 100 / denominator. A zero or null denominator gives
    null (no data), never 0 and never a division error. -#}
{% macro rate(numerator, denominator) -%}
    case
        when coalesce({{ denominator }}, 0) = 0 then null
        else round({{ numerator }} * 100.0 / {{ denominator }}, 2)
    end
{%- endmacro %}

{#- Keep one row per key: the most recently loaded one. -#}
{% macro deduplicate(keys, order_by) -%}
    qualify row_number() over (partition by {{ keys | join(', ') }} order by {{ order_by }}) = 1
{%- endmacro %}

{#- Names in a JSON array of objects (e.g. tags), sorted and joined with ", "; null when empty. -#}
{% macro json_names(json_expression, path) -%}
    nullif(array_to_string(list_sort(list_distinct(
        coalesce(json_extract_string({{ json_expression }}, '{{ path }}'), [])
    )), ', '), '')
{%- endmacro %}
