select payment_type
from "warehouse"."analytics_core"."fact_trips"
where payment_type is null
