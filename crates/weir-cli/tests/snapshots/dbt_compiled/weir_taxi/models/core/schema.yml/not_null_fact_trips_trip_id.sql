select trip_id
from "warehouse"."analytics_core"."fact_trips"
where trip_id is null
