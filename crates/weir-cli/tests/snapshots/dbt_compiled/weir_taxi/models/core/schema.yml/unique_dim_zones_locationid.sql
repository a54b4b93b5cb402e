select
    locationid as unique_field,
    count(*) as n_records
from "warehouse"."analytics_core"."dim_zones"
where locationid is not null
group by locationid
having count(*) > 1
