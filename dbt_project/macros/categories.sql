{#- Intercom's 1-5 conversation rating as words: 5 Very Good, 4 Good, 3 Neutral, 2 Bad,
    1 Very Bad, anything else (no rating) Not Rated. -#}
{% macro satisfaction_category(rating) -%}
    case {{ rating }}
        when 5 then 'Very Good'
        when 4 then 'Good'
        when 3 then 'Neutral'
        when 2 then 'Bad'
        when 1 then 'Very Bad'
        else 'Not Rated'
    end
{%- endmacro %}
