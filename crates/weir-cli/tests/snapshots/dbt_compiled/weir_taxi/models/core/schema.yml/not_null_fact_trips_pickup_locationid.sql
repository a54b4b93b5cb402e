select pickup_locationid
from "warehouse"."analytics_core"."fact_trips"
where pickup_locationid is null
