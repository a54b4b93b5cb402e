with all_values as (
    select
        service_type as value_field,
        count(*) as n_records
    from "warehouse"."analytics_core"."trips_unioned"
    group by service_type
)
select *
from all_values
where value_field not in ('Green', 'Yellow')
