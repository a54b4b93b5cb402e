select
    locationid as unique_field,
    count(*) as n_records
from "warehouse"."analytics_seeds"."taxi_zone_lookup"
where locationid is not null
group by locationid
having count(*) > 1
