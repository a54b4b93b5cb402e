select locationid
from "warehouse"."analytics_core"."dim_zones"
where locationid is null
