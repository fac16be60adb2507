{#- Every row satisfies `expression` (rows where it is false are returned). -#}
{% test expression_is_true(model, expression) %}
select * from {{ model }} where not ({{ expression }})
{% endtest %}
