{#- A generic test of our own: one mart row per zone, month and service. -#}
{% test unique_zone_month_service(model) %}
select revenue_zone, revenue_month, service_type, count(*) as n
from {{ model }}
group by 1, 2, 3
having count(*) > 1
{% endtest %}
