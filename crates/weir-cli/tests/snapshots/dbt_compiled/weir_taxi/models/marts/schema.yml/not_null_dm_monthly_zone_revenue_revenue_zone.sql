select revenue_zone
from "warehouse"."analytics_marts"."dm_monthly_zone_revenue"
where revenue_zone is null
