select trip_id
from "warehouse"."analytics_core"."trips_unioned"
where trip_id is null
