{#- The TLC data dictionary's payment type names, inline (the payment_type_lookup seed holds
    the same table; the relationships test checks the two agree on the codes). -#}
{% macro get_payment_type_description(payment_type) -%}
  {{ return(adapter.dispatch('get_payment_type_description', 'weir_taxi')(payment_type)) }}
{%- endmacro %}

{% macro default__get_payment_type_description(payment_type) -%}
  case cast({{ payment_type }} as integer)
    when 1 then 'Credit card'
    when 2 then 'Cash'
    when 3 then 'No charge'
    when 4 then 'Dispute'
    when 5 then 'Unknown'
    when 6 then 'Voided trip'
    else 'Unknown'
  end
{%- endmacro %}

{#- Money as an exact decimal, so that sums do not depend on the order rows are added in. -#}
{% macro to_money(column) -%}
  cast({{ column }} as decimal(12, 2))
{%- endmacro %}
