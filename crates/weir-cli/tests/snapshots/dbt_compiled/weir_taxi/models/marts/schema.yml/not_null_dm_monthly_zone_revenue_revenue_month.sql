select revenue_month
from "warehouse"."analytics_marts"."dm_monthly_zone_revenue"
where revenue_month is null
