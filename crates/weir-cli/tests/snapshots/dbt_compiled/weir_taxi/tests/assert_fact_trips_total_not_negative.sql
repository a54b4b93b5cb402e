select trip_id, total_amount
from "warehouse"."analytics_core"."fact_trips"
where total_amount < 0