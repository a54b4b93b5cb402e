
select revenue_zone, revenue_month, service_type, count(*) as n
from "warehouse"."analytics_marts"."dm_monthly_zone_revenue"
group by 1, 2, 3
having count(*) > 1
