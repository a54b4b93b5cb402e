select locationid
from "warehouse"."analytics_seeds"."taxi_zone_lookup"
where locationid is null
