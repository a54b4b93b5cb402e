{#- The TLC taxi zones. The lookup names the boroughs' street-hail zone "Boro Zone"; green
    cabs serve it, so it is called "Green Zone" here next to "Yellow Zone". -#}
select
    locationid,
    borough,
    zone,
    case service_zone when 'Boro Zone' then 'Green Zone' else service_zone end as service_zone
from {{ ref('taxi_zone_lookup') }}
